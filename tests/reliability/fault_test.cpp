// The fault suite: the agent's real sync loop against alliance-sim through a fault layer on
// loopback (tests/support/fault_proxy.hpp) while a technician's day is captured, one kind of
// fault per case. Each case checks what a user would notice: every effect upstream exactly
// once, nothing captured lost, the queue drained once the faults stop, and no busy loop while
// the network is gone. Each prints a `fault-figures:` line to stderr; docs/reliability.md
// ("Network faults") is made from them.
#include <catch2/catch.hpp>

#include <thread>

#include "fault_rig.hpp"

using namespace fieldagent;
using namespace fieldagent::testing;
using Action = FaultProxy::Action;

namespace {

const std::string kWorkOrderPosts = "POST /integrations/int_local/work-orders/";

// Polls `condition` (real time) until it holds; fails after `limit`.
void waitFor(const std::function<bool()>& condition, const char* what, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) FAIL("timed out waiting for " << what);
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

TEST_CASE("connections reset mid-request and mid-response lose nothing and duplicate nothing", "[fault][reset]") {
  FaultRig rig("reset");
  // Alternately: the request cut after 30 bytes (the server never sees it whole: no effect) and
  // the answer cut after 20 bytes (the effect happened; the agent cannot know and retries).
  for (int i = 0; i < 8; ++i) {
    rig.proxy->addRule({Action::resetRequest, kWorkOrderPosts, 30, 1});
    rig.proxy->addRule({Action::resetResponse, kWorkOrderPosts, 20, 1});
  }
  // And pulls cut mid-answer.
  rig.proxy->addRule({Action::resetResponse, "GET /integrations/int_local/work-orders", 200, 2});
  const int rules = rig.proxy->rulesLeft();
  rig.captureDays(3);
  REQUIRE(rig.clock.run(40min, [&] { return rig.proxy->rulesLeft() == 0 && rig.drained(); }));
  CHECK(rig.proxy->counts().faultsFired == static_cast<std::uint64_t>(rules));
  rig.drainAfterFaults();
  rig.checkExactlyOnce();
  rig.report({{"faultsInjected", rules}});
}

TEST_CASE("stalls longer than the agent's timeouts end in a retry that takes effect once", "[fault][stall]") {
  FaultRig rig("stall");
  // Held after the request went through (the effect happened) and held mid-request.
  for (int i = 0; i < 3; ++i) {
    rig.proxy->addRule({Action::stallResponse, kWorkOrderPosts, 0, 1});
    rig.proxy->addRule({Action::stallRequest, kWorkOrderPosts, 40, 1});
  }
  rig.captureDays(2);
  REQUIRE(rig.clock.run(40min, [&] { return rig.proxy->rulesLeft() == 0 && rig.drained(); }));
  CHECK(rig.proxy->counts().stalledConnections >= 6);

  // Then the whole link stalls: connections are accepted and nothing comes back.
  rig.proxy->stallAll();
  rig.captureDays(1);
  rig.clock.run(2min);
  CHECK(rig.outbox(storage::OpState::pending) > 0);  // nothing got through the stall
  rig.drainAfterFaults();
  rig.checkExactlyOnce();
  rig.report({});
}

TEST_CASE("a partition longer than the session while the link looks up: few attempts and no busy loop", "[fault][partition]") {
  FaultRig rig("partition");
  rig.proxy->partition();
  rig.captureDays(3);
  const auto before = rig.proxy->counts();
  const auto parksBefore = rig.clock.parks();
  const double cpuBefore = processCpuSeconds();
  const auto realBefore = std::chrono::steady_clock::now();
  constexpr int kMinutes = 70;  // longer than the session token lives (3600 s)
  rig.clock.run(std::chrono::minutes(kMinutes));
  const double cpu = processCpuSeconds() - cpuBefore;
  const double real = std::chrono::duration<double>(std::chrono::steady_clock::now() - realBefore).count();
  const auto after = rig.proxy->counts();
  const auto attempts = after.connections - before.connections;
  const auto rounds = rig.clock.parks() - parksBefore;
  CHECK(rig.outbox(storage::OpState::pending) == rig.operations);  // nothing lost, nothing sent
  // Back-off: the three work orders' next operations and the pull retry, each at most every
  // few seconds at first and then minutes apart. A loop that retried without waiting would
  // make thousands (and would fail the rig's round limit first).
  CHECK(attempts <= 20 * kMinutes);
  CHECK(rounds <= 20 * kMinutes);
  CHECK(rig.clock.parksAlreadyDue() == 0);

  // With the clock standing still, the parked loop does nothing at all.
  const auto stillBefore = rig.proxy->counts().connections;
  const auto stillParks = rig.clock.parks();
  const double stillCpuBefore = processCpuSeconds();
  std::this_thread::sleep_for(1s);  // an observation window, not a synchronisation
  const double stillCpu = processCpuSeconds() - stillCpuBefore;
  CHECK(rig.proxy->counts().connections == stillBefore);
  CHECK(rig.clock.parks() == stillParks);

  rig.drainAfterFaults();
  rig.checkExactlyOnce();
  rig.report({{"partitionMinutes", kMinutes},
              {"attemptsDuringPartition", attempts},
              {"loopRoundsDuringPartition", rounds},
              {"cpuSecondsDuringPartition", cpu},
              {"realSecondsDuringPartition", real},
              {"cpuSecondsIn1sStill", stillCpu}});
}

TEST_CASE("offline longer than the session: no attempt at all and everything goes when the link returns", "[fault][offline]") {
  FaultRig rig("offline");
  rig.net.set({false, false, ""});
  rig.captureDays(3);
  const auto before = rig.proxy->counts().connections;
  const auto parksBefore = rig.clock.parks();
  const double cpuBefore = processCpuSeconds();
  constexpr int kMinutes = 70;  // longer than the session token lives (3600 s)
  rig.clock.run(std::chrono::minutes(kMinutes));
  const double cpu = processCpuSeconds() - cpuBefore;
  const auto rounds = rig.clock.parks() - parksBefore;
  CHECK(rig.proxy->counts().connections == before);
  // Offline the loop wakes for its own timers only (SLA check, push interval): about once a minute.
  CHECK(rounds <= 3 * kMinutes);
  CHECK(rig.outbox(storage::OpState::pending) == rig.operations);

  // The link comes back: no timer has to run out, the queue goes with the clock standing still.
  const auto parksBeforeOnline = rig.clock.parks();
  rig.net.set({true, false, "eth0"});
  waitFor([&] { return rig.drained(); }, "the queue to drain with the clock standing still");
  CHECK(rig.clock.parks() - parksBeforeOnline <= 2);
  rig.checkExactlyOnce();
  rig.report({{"offlineMinutes", kMinutes}, {"attemptsWhileOffline", 0}, {"loopRoundsWhileOffline", rounds},
              {"cpuSecondsWhileOffline", cpu}});
}

TEST_CASE("5xx and 429 storms with dropped answers: every effect once after they pass", "[fault][storm]") {
  FaultRig rig("storm");
  // First three in four requests fail for ten minutes: 503 and 429 with Retry-After, 500, and
  // answers dropped after the effect was committed. Then one in five for twenty minutes, and
  // the queue has to make progress through it; then the storm ends.
  json heavy = {{"error503Share", 0.25}, {"error500Share", 0.15}, {"throttle429Share", 0.2}, {"dropShare", 0.15},
                {"retryAfterSeconds", 3}};
  REQUIRE(rig.sim->admin("PUT", "/faults", heavy).status == 200);
  rig.captureDays(3);
  rig.clock.run(10min);
  const auto doneInHeavy = rig.outbox(storage::OpState::done);
  REQUIRE(rig.sim->admin("PUT", "/faults",
                         json{{"error503Share", 0.08}, {"error500Share", 0.02}, {"throttle429Share", 0.05},
                              {"dropShare", 0.05}, {"retryAfterSeconds", 3}})
              .status == 200);
  rig.clock.run(20min, [&] { return rig.drained(); });
  CHECK(rig.outbox(storage::OpState::done) > doneInHeavy);
  const auto doneInStorm = rig.outbox(storage::OpState::done);
  rig.drainAfterFaults();
  rig.checkExactlyOnce();
  rig.report({{"doneDuringHeavyStorm", doneInHeavy}, {"doneDuringStorms", doneInStorm}});
}

TEST_CASE("revoked sessions are renewed and the queue carries on", "[fault][revocation]") {
  FaultRig rig("revocation");
  auto work = rig.scheduledWorkOrders(3);
  for (const auto& wo : work) {
    rig.captureDay(wo);
    // Revoked between captures: the next call meets a 401, signs in again, repeats.
    auto revoked = rig.sim->admin("POST", "/sessions/revoke", json::object()).json();
    CHECK(revoked["revoked"].get<int>() >= 1);
    rig.runUntilDrained(30min);
    CHECK(rig.agent->status()["session"]["state"] == "active");
  }
  rig.checkExactlyOnce();
  rig.report({{"revocations", work.size()}});
}

TEST_CASE("alliance-sim killed and restarted on its data: the answer lost with it is replayed and not redone",
          "[fault][restart]") {
  FaultRig rig("restart");
  // The first consumption is committed upstream and its answer held; then the server dies.
  rig.proxy->addRule({Action::stallResponse, "/consumptions", 0, 1});
  rig.captureDays(3);
  waitFor([&] { return rig.proxy->counts().stalledConnections >= 1; }, "a consumption answer held");
  rig.sim->stop(SIGKILL);
  // Down for five minutes: every attempt is refused.
  const auto refusedBefore = rig.proxy->counts().refused;
  rig.clock.run(5min);
  const auto refused = rig.proxy->counts().refused - refusedBefore;
  CHECK(refused >= 1);
  CHECK(rig.outbox(storage::OpState::pending) > 0);
  rig.startSim();
  rig.proxy->setUpstreamPort(portOf(rig.sim->baseUrl()));
  // And once more, killed mid-queue: after an answer was lost again.
  rig.proxy->addRule({Action::stallResponse, kWorkOrderPosts, 0, 1});
  rig.clock.run(30min, [&] { return rig.proxy->counts().stalledConnections >= 2 || rig.drained(); });
  CHECK(rig.proxy->counts().stalledConnections >= 2);
  rig.killAndRestartSim();
  rig.drainAfterFaults();
  rig.checkExactlyOnce();
  rig.report({{"restarts", 2}, {"refusedWhileDown", refused}});
}
