// The agent killed with SIGKILL at random points of a push, again and again, then restarted:
// upstream ends with every effect exactly once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "fieldagent/sync/capture.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using fieldagent::testing::SyncFixture;
using nlohmann::json;

namespace {

struct Driver {
  pid_t pid = -1;
  FILE* out = nullptr;
};

Driver startDriver(const std::vector<std::string>& args) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  Driver d;
  d.pid = ::fork();
  REQUIRE(d.pid >= 0);
  if (d.pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(PUSH_DRIVER)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(PUSH_DRIVER, argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  d.out = ::fdopen(fds[0], "r");
  REQUIRE(d.out != nullptr);
  return d;
}

// Reads the driver's trace lines; true when it finished on its own.
int waitExit(Driver& d) {
  int status = 0;
  REQUIRE(::waitpid(d.pid, &status, 0) == d.pid);
  std::fclose(d.out);
  return status;
}

}  // namespace

TEST_CASE("SIGKILL at random points of a push, 100 times: every effect upstream exactly once", "[pusher][crash]") {
  SyncFixture f({"--seed", "200", "--technicians", "3"});
  REQUIRE(f.puller().pull().ok());
  sync::Capture capture(*f.store, *f.session, f.clock);
  std::map<std::string, std::string> notes;
  int captured = 0;
  for (const auto& id : f.store->workOrders().workOrderIds().value()) {
    auto wo = f.store->workOrders().workOrder(id).value();
    const std::string status = wo.doc["status"];
    if (status != "scheduled" && status != "en_route" && status != "on_site") continue;
    if (status == "scheduled") REQUIRE(capture.moveStatus(id, {{"status", "en_route"}}).ok());
    REQUIRE(capture.recordConsumption(id, {{"labor", {{{"laborType", "regular"}, {"hours", 0.5}}}}}).ok());
    notes[id] = "crash-test note " + id;
    REQUIRE(capture.addNote(id, {{"text", notes[id]}}).ok());
    if (++captured == 40) break;
  }
  REQUIRE(captured >= 30);
  const auto data = f.dir / "data";
  const std::vector<std::string> args = {data.string(), (f.dir / "keys" / "data.key").string(), f.sim.baseUrl(),
                                         f.sim.integrationToken(), f.technician().tenant};
  f.store.reset();  // the driver owns the database from here on

  std::mt19937 dice(20261128);
  int kills = 0;
  int finished = 0;
  while (kills < 100) {
    Driver d = startDriver(args);
    // Kill after a random number of trace lines: before a request, while it is on the wire, or
    // after its answer and before the outbox row is updated.
    const int killAfter = std::uniform_int_distribution<int>(1, 4)(dice);
    char line[64];
    int seen = 0;
    bool done = false;
    while (std::fgets(line, sizeof line, d.out) != nullptr) {
      if (std::string(line).rfind("DONE", 0) == 0) done = true;
      if (++seen == killAfter && !done) {
        ::kill(d.pid, SIGKILL);
        ++kills;
        break;
      }
    }
    const int status = waitExit(d);
    if (done || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      ++finished;
      if (finished > 3) break;  // nothing left to kill
      continue;
    }
    REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
  }
  CHECK(kills >= 100);
  // A last run without interruption sends whatever is left.
  Driver last = startDriver(args);
  char line[64];
  while (std::fgets(line, sizeof line, last.out) != nullptr) {
  }
  const int status = waitExit(last);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  auto store = storage::Store::open({data}, f.clock, platform::systemEntropy(), f.keys).value();
  const auto counts = store->outbox().outboxCounts().value();
  CHECK(counts.byState.at(storage::OpState::pending) == 0);
  CHECK(counts.byState.at(storage::OpState::in_flight) == 0);
  CHECK(counts.byState.at(storage::OpState::rejected) == 0);
  CHECK(counts.byState.at(storage::OpState::conflict) == 0);

  const std::string dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
  for (const auto& [id, text] : notes) {
    CAPTURE(id);
    CHECK(f.sim.admin("GET", "/effects?workOrderId=" + id).json()["consumptions"] == 1);
    const json wo = f.sim.call("GET", "/work-orders/" + id, dispatcher).json();
    int copies = 0;
    for (const auto& n : wo["notes"]) copies += n["text"] == text ? 1 : 0;
    CHECK(copies == 1);
    CHECK(wo["status"] != "scheduled");
  }
}
