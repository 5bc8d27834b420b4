#pragma once
// `fieldagent run` as a child of a test: its stdout readiness line parsed, its stderr (where
// the console log goes) kept in a file, stopped with SIGTERM at the end; and helpers to drive
// its local API and wait for conditions with a deadline.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "sim_process.hpp"
#include "temp_dir.hpp"

namespace fieldagent::testing {

inline std::string readText(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class AgentProcess {
 public:
  AgentProcess(const std::filesystem::path& config, std::filesystem::path stderrFile)
      : stderrFile_(std::move(stderrFile)) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      ::dup2(out[1], 1);
      const int fd = ::open(stderrFile_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 2);
      ::close(out[0]);
      ::execl(FIELDAGENT_BINARY, FIELDAGENT_BINARY, "run", "--config", config.c_str(), nullptr);
      std::_Exit(127);
    }
    ::close(out[1]);
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    stdout_ = out[0];
    ready_ = nlohmann::json::parse(line, nullptr, false);
    if (!ready_.is_object()) {
      stop();
      FAIL("fieldagent did not start: " << line << " " << readText(stderrFile_));
    }
    url_ = ready_["url"];
    std::ifstream token(ready_["tokenFile"].get<std::string>());
    std::getline(token, token_);
  }
  ~AgentProcess() { stop(); }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // SIGTERM and wait; returns the exit code (128 + signal when killed). Also collects what the
  // agent printed on stdout after its readiness line.
  int stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(stdout_, buf, sizeof buf)) > 0) stdoutText_.append(buf, static_cast<std::size_t>(n));
    ::close(stdout_);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                    std::map<std::string, std::string> headers = {}) {
    if (!headers.count("Authorization")) headers["Authorization"] = "Bearer " + token_;
    if (!body.empty() && !headers.count("Content-Type")) headers["Content-Type"] = "application/json";
    return httpCall(method, url_ + path, body, headers);
  }

  // Polls GET /agent/status until `done` holds for it (the agent works on its own thread);
  // fails after `limit`.
  nlohmann::json waitForStatus(const std::function<bool(const nlohmann::json&)>& done, const std::string& what,
                               std::chrono::seconds limit = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    nlohmann::json status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = call("GET", "/agent/status").json();
      if (status.is_object() && done(status)) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval, not a wait for an event
    }
    FAIL("timed out waiting for " << what << "; last status " << status.dump());
    return status;
  }

  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  const std::string& stdoutText() const { return stdoutText_; }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
  std::filesystem::path stderrFile_;
  nlohmann::json ready_;
  std::string url_, token_, stdoutText_;
};

// A config for the agent against `sim`, its data in `dataDir`.
inline std::filesystem::path writeAgentConfig(const std::filesystem::path& file, const SimProcess& sim,
                                              const std::string& tenant, const std::filesystem::path& dataDir,
                                              const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json cfg = {{"upstream", {{"baseUrl", sim.baseUrl()}, {"integrationToken", sim.integrationToken()}}},
                        {"tenant", tenant},
                        {"dataDir", dataDir.string()},
                        {"localApi", {{"port", 0}}},
                        {"laborRates", {{"standard", 90}}}};
  cfg.merge_patch(extra);
  std::ofstream(file) << cfg.dump();
  return file;
}

// Stores the technician's credentials through the API and waits until the prime is stored.
inline void signInAndPrime(AgentProcess& agent, const SimUser& user) {
  auto r = agent.call("POST", "/agent/credentials",
                      nlohmann::json{{"username", user.username}, {"password", user.password},
                                     {"totpSecret", user.totpSecret}}
                          .dump());
  REQUIRE(r.status == 202);
  agent.waitForStatus(
      [](const nlohmann::json& s) {
        return s["session"]["state"] == "active" && s["lastPull"]["outcome"] == "ok";
      },
      "sign-in and prime");
}

}  // namespace fieldagent::testing
