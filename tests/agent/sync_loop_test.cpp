// The agent's sync loop on a fake clock and fake connectivity, against a real alliance-sim on
// loopback: it sends nothing while the device is offline however long that lasts, does not spin,
// and sends what was queued as soon as the network returns — without waiting for a timer, even
// for operations that were backing off.
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include <catch2/catch.hpp>

#include "fieldagent/agent/agent.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "sim_process.hpp"
#include "loop_step.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using namespace fieldagent::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// The real exchange, counting what goes out.
class CountingExchange final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    ++requests;
    if (request.method == "GET" && request.url.find("/work-orders?") != std::string::npos) {
      ++listRequests;
      if (request.url.find("?page=1&") != std::string::npos || request.url.find("&page=1&") != std::string::npos)
        ++pulls;
    }
    if (onRequest) onRequest(request);
    return inner.exchange(request);
  }
  std::atomic<int> requests{0};
  std::atomic<int> listRequests{0};  // work-order list pages: one a pull attempt while they fail
  std::atomic<int> pulls{0};         // first pages of the work-order list: one a pull
  std::function<void(const platform::HttpRequest&)> onRequest;  // set before the agent starts
  platform::PocoHttpExchange inner;
};

// Polls `condition` until it holds or `limit` of real time has passed (the agent works on its
// own thread; this only bounds how long a broken agent can hang the test).
template <class F>
bool eventually(F condition, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

std::int64_t unsent(storage::Store& store) {
  auto counts = store.outbox().outboxCounts();
  REQUIRE(counts.ok());
  return counts->byState[storage::OpState::pending] + counts->byState[storage::OpState::in_flight];
}

// The work orders upstream shows in `status`, read as the technician.
std::string upstreamStatus(SimProcess& sim, const std::string& token, const std::string& workOrderId) {
  auto r = sim.call("GET", "/work-orders/" + workOrderId, token);
  REQUIRE(r.status == 200);
  return r.json().value("status", "");
}

struct LoopRig {
  SimProcess sim{{"--seed", "120", "--token-ttl", "86400"}};
  TempDir dir;
  platform::FakeClock clock{platform::SystemClock().now()};
  platform::FakeConnectivity net{{true, false, "eth0"}};
  CountingExchange* exchange = nullptr;
  std::unique_ptr<agent::Agent> agent;
  const SimUser& user = sim.technicianUser("totp");

  LoopRig() {
    agent::Config cfg;
    cfg.upstreamBaseUrl = sim.baseUrl();
    cfg.upstreamIntegrationToken = sim.integrationToken();
    cfg.tenant = user.tenant;
    cfg.mfaMethod = "totp";
    cfg.dataDir = dir / "data";
    cfg.pullInterval = 300s;
    cfg.pushInterval = 60s;
    auto ex = std::make_unique<CountingExchange>();
    exchange = ex.get();
    auto opened = agent::Agent::open(cfg, clock, net, platform::systemEntropy(), std::move(ex));
    REQUIRE(opened.ok());
    agent = std::move(opened).value();
  }
  ~LoopRig() {
    if (agent) agent->stop();
  }

  template <class F>
  void step(F action) {
    stepLoop(clock, action);
  }

  std::vector<std::string> scheduled(int n) {
    storage::WorkOrderQuery q;
    q.status = "scheduled";
    q.pageSize = 200;
    auto page = agent->localApiContext().store.workOrders().listWorkOrders(q);
    REQUIRE(page.ok());
    std::vector<std::string> ids;
    for (const auto& wo : page->items)
      if (static_cast<int>(ids.size()) < n) ids.push_back(wo.workOrderId);
    REQUIRE(static_cast<int>(ids.size()) == n);
    return ids;
  }

  void move(const std::string& workOrderId, const std::string& status) {
    auto r = agent->localApiContext().capture.moveStatus(workOrderId, {{"status", status},
                                                       {"occurredAt", platform::formatIso8601(clock.now())}});
    REQUIRE(r.ok());
    agent->localWriteRecorded();
  }
};

}  // namespace

TEST_CASE("sync loop: silent while offline and sends at once when the network returns", "[agent][loop]") {
  LoopRig rig;
  REQUIRE(rig.agent->storeCredentials(rig.user.username, rig.user.password, rig.user.totpSecret).ok());
  rig.agent->start();
  // Online at start: the loop signs in and primes without any clock movement.
  REQUIRE(eventually([&] { return rig.agent->status()["lastPull"].value("outcome", "") == "ok"; }));
  const auto ids = rig.scheduled(3);

  rig.clock.awaitWaiters(1);  // the round that primed is over
  rig.net.set({false, false, ""});
  for (const auto& id : ids) rig.step([&] { rig.move(id, "en_route"); });
  REQUIRE(unsent(rig.agent->localApiContext().store) == 3);

  // Six hours offline, in one-minute steps: every push and pull timer falls due many times.
  const int sentBefore = rig.exchange->requests;
  const auto waitsBefore = rig.clock.waitsStarted();
  constexpr int kSteps = 360;
  for (int i = 0; i < kSteps; ++i) rig.step([&] { rig.clock.advance(60s); });
  CHECK(rig.exchange->requests == sentBefore);  // not one request while offline
  CHECK(unsent(rig.agent->localApiContext().store) == 3);       // and nothing lost or given up
  // The loop woke for the timers but did not spin: at most a couple of waits per advance.
  CHECK(rig.clock.waitsStarted() - waitsBefore <= 2 * kSteps + 2);

  // The network returns: the queue goes without the clock moving at all.
  const auto mono = rig.clock.monotonic();
  rig.net.set({true, false, "wlan0"});
  REQUIRE(eventually([&] { return unsent(rig.agent->localApiContext().store) == 0; }));
  CHECK(rig.clock.monotonic() == mono);
  const auto token = rig.sim.login(rig.user);
  for (const auto& id : ids) CHECK(upstreamStatus(rig.sim, token, id) == "en_route");
}

TEST_CASE("sync loop: operations backing off go at once when connectivity returns", "[agent][loop]") {
  LoopRig rig;
  REQUIRE(rig.agent->storeCredentials(rig.user.username, rig.user.password, rig.user.totpSecret).ok());
  rig.agent->start();
  REQUIRE(eventually([&] { return rig.agent->status()["lastPull"].value("outcome", "") == "ok"; }));
  const auto ids = rig.scheduled(2);

  // Upstream answers every status move with 503 and a long Retry-After: the operations are
  // tried once and then wait for their backoff, which the fake clock never reaches.
  REQUIRE(rig.sim.admin("PUT", "/faults", {{"error503Share", 1.0}, {"retryAfterSeconds", 3600}, {"pathContains", "/status"}})
              .status == 200);
  auto backingOff = [&] {
    storage::OutboxFilter f;
    f.state = storage::OpState::pending;
    auto ops = rig.agent->localApiContext().store.outbox().listOperations(f);
    REQUIRE(ops.ok());
    int n = 0;
    for (const auto& o : *ops)
      if (o.attempts == 1 && o.nextAttemptAt > rig.clock.now()) ++n;
    return n;
  };
  for (const auto& id : ids) rig.step([&] { rig.move(id, "en_route"); });
  REQUIRE(eventually([&] { return backingOff() == 2; }));

  // Four minutes on (push timer due four times, the next pull not yet): nothing is retried.
  const int afterFirstTry = rig.exchange->requests;
  for (int i = 0; i < 4; ++i) rig.step([&] { rig.clock.advance(60s); });
  CHECK(rig.exchange->requests == afterFirstTry);
  CHECK(backingOff() == 2);

  // The upstream recovers while the device has a dead spot; when the network returns, the
  // operations go at once instead of after their hour of backoff.
  REQUIRE(rig.sim.admin("DELETE", "/faults").status == 200);
  const auto mono = rig.clock.monotonic();
  rig.clock.awaitWaiters(1);
  rig.net.set({false, false, ""});
  rig.net.set({true, false, "eth0"});
  REQUIRE(eventually([&] { return unsent(rig.agent->localApiContext().store) == 0; }));
  CHECK(rig.clock.monotonic() == mono);
  const auto token = rig.sim.login(rig.user);
  for (const auto& id : ids) CHECK(upstreamStatus(rig.sim, token, id) == "en_route");
}

TEST_CASE("sync loop: a pull failing in a partition backs off to the pull interval and goes at once on reconnect",
          "[agent][loop]") {
  LoopRig rig;  // pull interval 300 s
  // Online, signed in, but every work-order call fails: upstream is out of reach behind a
  // network that works (a partition, a captive portal, an outage upstream).
  REQUIRE(rig.sim.admin("PUT", "/faults", {{"error503Share", 1.0}, {"pathContains", "/work-orders"}}).status == 200);
  REQUIRE(rig.agent->storeCredentials(rig.user.username, rig.user.password, rig.user.totpSecret).ok());
  rig.agent->start();
  REQUIRE(eventually([&] { return rig.exchange->listRequests >= 1; }));
  rig.clock.awaitWaiters(1);

  // 40 minutes of fake time, stepping from each of the loop's deadlines to the next; when a
  // pull attempt happened, and the gaps.
  std::vector<std::chrono::seconds> attempts{0s};
  const auto start = rig.clock.monotonic();
  int seen = rig.exchange->listRequests;
  while (rig.clock.monotonic() - start < 40min) {
    rig.step([&] {
      const auto next = rig.clock.untilNextDeadline();
      REQUIRE(next);
      rig.clock.advance(std::max<std::chrono::nanoseconds>(*next, 1ms));
    });
    if (rig.exchange->listRequests > seen) {
      seen = rig.exchange->listRequests;
      attempts.push_back(std::chrono::duration_cast<std::chrono::seconds>(rig.clock.monotonic() - start));
    }
  }
  std::vector<std::chrono::seconds> gaps;
  for (std::size_t i = 1; i < attempts.size(); ++i) gaps.push_back(attempts[i] - attempts[i - 1]);
  INFO("attempts at (s):" << [&] {
    std::string t;
    for (auto a : attempts) t += " " + std::to_string(a.count());
    return t;
  }());
  // A fixed 30 s retry would have made 80 attempts; backing off 30, 60, 120, 240 s then the
  // 300 s interval (each drawn in its upper half) makes about a dozen.
  CHECK(attempts.size() >= 8);
  CHECK(attempts.size() <= 16);
  REQUIRE(gaps.size() >= 5);
  CHECK(gaps.front() >= 14s);
  CHECK(gaps.front() <= 31s);
  // While the ceiling doubles, each wait is at least as long as the one before (a second of
  // slack for the rounding to seconds); from the fifth on they are at the pull interval's level,
  // never beyond it.
  for (std::size_t i = 1; i < 4; ++i) CHECK(gaps[i] + 1s >= gaps[i - 1]);
  for (std::size_t i = 4; i < gaps.size(); ++i) {
    CHECK(gaps[i] >= 149s);
    CHECK(gaps[i] <= 301s);
  }
  const std::string failed = rig.agent->status()["lastPull"].value("outcome", "");
  CHECK(failed != "ok");
  CHECK_FALSE(failed.empty());

  // Upstream is back and the device changes network: the pull goes at once, not after its
  // back-off, without the clock moving.
  REQUIRE(rig.sim.admin("DELETE", "/faults").status == 200);
  const auto mono = rig.clock.monotonic();
  rig.clock.awaitWaiters(1);
  rig.net.set({false, false, ""});
  rig.net.set({true, false, "wlan0"});
  REQUIRE(eventually([&] { return rig.agent->status()["lastPull"].value("outcome", "") == "ok"; }));
  CHECK(rig.clock.monotonic() == mono);
}

TEST_CASE("sync loop: a sync asked for while the round signs in is served by that round's pull",
          "[agent][loop]") {
  LoopRig rig;
  // The technician's app asks for a sync while the agent is signing in (POST /agent/credentials
  // arriving as a round begins): the request reaches the loop during the sign-in call.
  rig.exchange->onRequest = [&](const platform::HttpRequest& r) {
    if (r.method == "POST" && r.url.find("/sessions") != std::string::npos) rig.agent->requestSync();
  };
  REQUIRE(rig.agent->storeCredentials(rig.user.username, rig.user.password, rig.user.totpSecret).ok());
  rig.agent->start();
  // The round that answers the request says so when it is done, after its pull.
  REQUIRE(eventually([&] { return rig.agent->status()["sync"]["served"].get<std::uint64_t>() >= 1; }));
  CHECK(rig.agent->status()["lastPull"].value("outcome", "") == "ok");
  // One pull: the sign-in's round pulled after the request was made, so it served it; a second
  // pull right behind the prime would cost the technician's data plan for nothing.
  CHECK(rig.exchange->pulls == 1);
}
