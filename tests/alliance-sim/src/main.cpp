// alliance-sim: the reference upstream. Prints one JSON line with its base URL and credentials,
// serves until SIGTERM or SIGINT, then stops cleanly.
#include <sys/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "fieldagent/platform/clock.hpp"
#include "http_frontend.hpp"
#include "options.hpp"
#include "simulator.hpp"

using namespace fieldagent;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto options = sim::parseOptions(args);
  if (!options) {
    std::cerr << "alliance-sim: " << options.error().message << "\n";
    return 2;
  }
  if (options->help) {
    std::cout << sim::usageText();
    return 0;
  }

  if (options->dieWithParent) {
    // A test that crashes must not leave its simulator behind holding ctest's output pipe.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) return 0;  // the parent is already gone
  }

  // Every thread started from here on inherits the mask, so only sigwait() below sees them.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  sim::SimConfig config = options->sim;
  const bool temporary = options->temporaryData;
  if (temporary) {
    std::string pattern = (std::filesystem::temp_directory_path() / "alliance-sim-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "alliance-sim: cannot create a temp folder\n";
      return 1;
    }
    config.dataDir = pattern;
  }
  const std::filesystem::path dataDir = config.dataDir;

  platform::SystemClock realClock;
  auto opened = sim::Simulator::open(config, realClock);
  if (!opened) {
    std::cerr << "alliance-sim: " << opened.error().message << "\n";
    return 1;
  }
  sim::Simulator& simulator = **opened;
  if (options->clockShiftSeconds != 0) simulator.clock().shift(std::chrono::seconds{options->clockShiftSeconds});
  if (options->freezeClockAt) {
    if (*options->freezeClockAt == "now") {
      simulator.clock().freeze(std::nullopt);
    } else {
      platform::WallTime at;
      if (!platform::parseIso8601(*options->freezeClockAt, at)) {
        std::cerr << "alliance-sim: --freeze-clock needs an ISO 8601 time or 'now'\n";
        return 2;
      }
      simulator.clock().freeze(at);
    }
  }

  sim::HttpFrontend frontend(simulator, options->verbose);
  auto port = frontend.start(options->bind, options->port);
  if (!port) {
    std::cerr << "alliance-sim: " << port.error().message << "\n";
    return 1;
  }
  std::string host = options->bind;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  simulator.setOrigin("http://" + host + ":" + std::to_string(*port));

  nlohmann::json line = simulator.startLine();
  line["pid"] = ::getpid();
  line["generated"] = simulator.createdNow();
  std::cout << line.dump() << std::endl;

  int signal = 0;
  sigwait(&stopSignals, &signal);
  frontend.stop();
  opened = makeError("closed", "");  // closes the database before the folder goes
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(dataDir, ec);
  }
  return 0;
}
