#pragma once
// The fault suite's rig: the agent's composition root (agent::Agent, its real sync loop thread,
// store, session, pusher, puller) in this process, talking to a real alliance-sim through a
// FaultProxy on loopback, on a fake clock the test drives from one of the loop's deadlines to
// the next (so minutes of partition or back-off cost no real time), with fake connectivity.
//
// Only the clock and connectivity are fake. Socket timeouts are real: the agent's exchange is
// built with 2 s connect and I/O timeouts (the product's defaults are 10 s / 30 s) so that a
// stall longer than the timeout costs the suite 2 s, not 30.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fault_proxy.hpp"
#include "fieldagent/agent/agent.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "sim_process.hpp"
#include "temp_dir.hpp"

namespace fieldagent::testing {

using namespace std::chrono_literals;
using nlohmann::json;

// A FakeClock that knows when the agent's loop is parked and until when, so a test can move
// time straight to the loop's next deadline. Every round of the loop is one park: rounds that
// park with their deadline already reached (a loop with nothing to wait for) are counted apart,
// and a run that takes more rounds than any honest schedule fails as a busy loop.
class DrivenClock final : public platform::Clock {
 public:
  explicit DrivenClock(platform::WallTime start) : fake_(start) {}

  platform::WallTime now() const override { return fake_.now(); }
  platform::MonoTime monotonic() const override { return fake_.monotonic(); }
  bool waitUntil(platform::MonoTime deadline, platform::Wakeup& wakeup) override {
    {
      std::lock_guard lock(mutex_);
      ++parks_;
      if (deadline <= fake_.monotonic()) ++parksAlreadyDue_;
      deadline_ = deadline;
      parked_ = true;
    }
    changed_.notify_all();
    const bool reached = fake_.waitUntil(deadline, wakeup);
    {
      std::lock_guard lock(mutex_);
      parked_ = false;
    }
    changed_.notify_all();
    return reached;
  }

  std::uint64_t parks() const {
    std::lock_guard lock(mutex_);
    return parks_;
  }
  std::uint64_t parksAlreadyDue() const {
    std::lock_guard lock(mutex_);
    return parksAlreadyDue_;
  }

  struct Parked {
    std::uint64_t parks;  // how many times the loop has parked, this time included
    platform::MonoTime deadline;
  };
  // Waits (real time, bounded) until the loop has parked more than `after` times in all and is
  // parked now.
  Parked awaitParked(std::uint64_t after = 0) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, 120s, [&] { return parked_ && parks_ > after; }))
      FAIL("the agent's loop did not come back to its wait within 120 s of real time");
    return {parks_, deadline_};
  }

  // Moves time forward deadline by deadline for `span`, letting the loop run every round that
  // falls due. Stops early when `until` (checked whenever the loop is parked) holds; returns
  // whether it did. Fails when the loop takes more than `maxRounds` rounds: a busy loop.
  bool run(std::chrono::nanoseconds span, const std::function<bool()>& until = {}, int maxRounds = 2000) {
    const auto end = fake_.monotonic() + span;
    for (int round = 0;; ++round) {
      if (round > maxRounds) FAIL("the agent's loop ran more than " << maxRounds << " rounds: a busy loop");
      const auto parked = awaitParked();
      if (until && until()) return true;
      const auto now = fake_.monotonic();
      if (parked.deadline > end) {
        if (end > now) fake_.advance(end - now);
        return until ? until() : false;
      }
      if (parked.deadline > now) fake_.advance(parked.deadline - now);
      awaitParked(parked.parks);  // the round it released ran and parked again
    }
  }

  platform::FakeClock& fake() { return fake_; }

 private:
  platform::FakeClock fake_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t parks_ = 0, parksAlreadyDue_ = 0;
  platform::MonoTime deadline_{};
  bool parked_ = false;
};

inline std::uint16_t portOf(const std::string& url) {
  const auto hostStart = url.find("://") + 3;
  const auto colon = url.find(':', hostStart);
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

// CPU seconds this process has used (user + system): the agent's loop, pusher lanes, the proxy
// and the test thread together, so an upper bound on the agent's share.
inline double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// What the technician captured for one work order, to check upstream afterwards.
struct CapturedWork {
  std::string workOrderId;
  int consumptions = 0;
  int attachments = 0;
  json effectsBefore;  // /_admin/effects before the day (the seed has records of its own)
  std::vector<std::string> notes;  // texts that must appear exactly once upstream
  std::string finalStatus;
};

struct FaultRig {
  // `seed` work orders in alliance-sim, shared by two technicians: enough scheduled work for a
  // few days of capture.
  explicit FaultRig(const std::string& name, int seed = 60) : name(name), seed(seed) {
    std::filesystem::create_directories(simData);
    startSim();
    proxy = std::make_unique<FaultProxy>(portOf(sim->baseUrl()));
    tech = sim->technicianUser("totp");

    agent::Config config;
    config.upstreamBaseUrl = proxy->rewrite(sim->baseUrl());
    config.upstreamIntegrationToken = sim->integrationToken();
    config.tenant = tech.tenant;
    config.mfaMethod = "totp";
    config.dataDir = dir / "agent";
    config.laborRates = {{"standard", 90.0}};
    platform::HttpOptions http;
    http.connectTimeout = 2s;
    http.ioTimeout = 2s;
    auto opened = agent::Agent::open(config, clock, net, platform::systemEntropy(),
                                     std::make_unique<platform::PocoHttpExchange>(http));
    if (!opened) FAIL("agent did not open: " << opened.error().message);
    agent = std::move(opened).value();
    REQUIRE(agent->storeCredentials(tech.username, tech.password, tech.totpSecret).ok());
    agent->start();
    // Sign-in and the prime run in the first round, at the first instant.
    REQUIRE(clock.run(0s, [&] { return primed(); }));
  }

  ~FaultRig() {
    proxy->passThrough();
    if (agent) agent->stop();
  }

  void startSim() {
    sim = std::make_unique<SimProcess>(
        std::vector<std::string>{"--seed", std::to_string(seed), "--technicians", "2", "--max-chunk-bytes", "65536",
                                 "--data", simData.string()});
  }

  // alliance-sim killed with SIGKILL (no clean shutdown) and started again on its data folder;
  // the proxy follows it to its new port.
  void killAndRestartSim() {
    REQUIRE(sim->stop(SIGKILL) == 128 + SIGKILL);
    startSim();
    proxy->setUpstreamPort(portOf(sim->baseUrl()));
  }

  bool primed() { return agent->status()["lastPull"]["outcome"] == "ok"; }

  std::int64_t outbox(storage::OpState state) {
    auto counts = agent->localApiContext().store.outbox().outboxCounts();
    REQUIRE(counts.ok());
    return counts->byState[state];
  }
  bool drained() {
    return outbox(storage::OpState::pending) == 0 && outbox(storage::OpState::in_flight) == 0;
  }

  // What is still queued, for a failure's message.
  std::string queued() {
    storage::OutboxFilter f;
    f.limit = 500;
    auto ops = agent->localApiContext().store.outbox().listOperations(f);
    if (!ops) return ops.error().message;
    std::string out;
    for (const auto& o : *ops) {
      if (o.state == storage::OpState::done) continue;
      out += "\n  " + std::to_string(o.id) + " " + o.kind + " " + o.workOrderId + " " +
             std::string(storage::toString(o.state)) + (o.held ? " held" : "") + " attempts " +
             std::to_string(o.attempts) + " next " + platform::formatIso8601(o.nextAttemptAt) + " (now " +
             platform::formatIso8601(clock.now()) + ") " + o.lastError;
    }
    return out + "\n  agent: " + agent->status().dump();
  }

  // Runs until the outbox is drained, within `limit` of virtual time; says what is left if not.
  void runUntilDrained(std::chrono::nanoseconds limit) {
    const bool done = clock.run(limit, [&] { return drained(); });
    if (!done) FAIL("not drained within the limit; still queued:" << queued());
  }

  // The technician's scheduled work orders in the agent's cache.
  std::vector<std::string> scheduledWorkOrders(std::size_t n) {
    storage::WorkOrderQuery q;
    q.status = "scheduled";
    q.technicianId = tech.technicianId;
    q.pageSize = 200;
    auto page = agent->localApiContext().store.workOrders().listWorkOrders(q);
    REQUIRE(page.ok());
    std::vector<std::string> ids;
    for (const auto& wo : page->items) {
      if (ids.size() == n) break;
      ids.push_back(wo.workOrderId);
    }
    REQUIRE(ids.size() == n);
    return ids;
  }

  // One capture, as the local API records it, then the wakeup the local API gives the loop.
  void captured(const Result<sync::Captured>& r, const char* what) {
    INFO(what << ": " << (r ? std::string() : r.error().describe()));
    REQUIRE(r.ok());
    operations += static_cast<int>(r->operations.size());
    agent->localWriteRecorded();
  }

  // A technician's day on one work order: on the way, on site (each move with a note), a note,
  // a photo, two consumptions (labor and a part), completed. Seven outbox operations.
  CapturedWork captureDay(const std::string& wo) {
    CapturedWork w{wo, 0, 0, sim->admin("GET", "/effects?workOrderId=" + wo).json(), {}, "completed"};
    auto text = [&](const std::string& what) {
      w.notes.push_back(name + " " + wo + " " + what);
      return w.notes.back();
    };
    auto& c = agent->localApiContext().capture;
    captured(c.moveStatus(wo, {{"status", "en_route"}, {"note", text("on the way")}}), "en_route");
    captured(c.moveStatus(wo, {{"status", "on_site"}, {"note", text("arrived")}}), "on_site");
    captured(c.addNote(wo, {{"text", text("filter clogged, replacing")}}), "note");
    // A 200 kB photo: four tus chunks of alliance-sim's 64 kB.
    storage::AttachmentSpec spec{wo, "photo", "meter-" + wo + ".jpg", "image/jpeg", std::nullopt};
    auto writer = agent->localApiContext().store.attachments().beginAttachment(spec);
    REQUIRE(writer.ok());
    std::string bytes(200'000, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& b : bytes) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      b = static_cast<char>(x & 0xff);
    }
    REQUIRE(writer->append(bytes).ok());
    auto finished = writer->finish();
    REQUIRE(finished.ok());
    captured(c.recordAttachment(*finished), "photo");
    w.attachments = 1;
    captured(c.recordConsumption(wo, {{"labor", {{{"laborType", "standard"}, {"hours", 1.25}}}},
                                      {"parts", {{{"partNumber", "FILTER-XL"}, {"quantity", 1}}}}}),
             "consumption 1");
    captured(c.recordConsumption(wo, {{"labor", {{{"laborType", "standard"}, {"hours", 0.5}}}}}), "consumption 2");
    w.consumptions = 2;
    captured(c.moveStatus(wo, {{"status", "completed"}, {"note", text("done, unit running")}}), "completed");
    work.push_back(w);
    return w;
  }

  void captureDays(std::size_t workOrders) {
    for (const auto& wo : scheduledWorkOrders(workOrders)) captureDay(wo);
  }

  // Runs the agent (faults off) until the outbox is drained; virtual time, bounded.
  void drainAfterFaults(std::chrono::minutes limit = 30min) {
    proxy->passThrough();
    REQUIRE(sim->admin("DELETE", "/faults").status == 200);
    runUntilDrained(limit);
    // Virtual minutes have put the device's wall clock ahead of the real one, and the TOTP
    // codes the agent computes for its next sign-in come from it while alliance-sim checks
    // them against the real time: with the queue empty, set the wall clock right again.
    clock.fake().setWall(platform::SystemClock().now());
  }

  // Every captured effect is upstream exactly once and nothing is lost or parked.
  void checkExactlyOnce() {
    INFO("not done:" << queued());
    CHECK(outbox(storage::OpState::pending) == 0);
    CHECK(outbox(storage::OpState::in_flight) == 0);
    CHECK(outbox(storage::OpState::rejected) == 0);
    CHECK(outbox(storage::OpState::conflict) == 0);
    CHECK(outbox(storage::OpState::done) + outbox(storage::OpState::archived) == operations);
    const std::string token = sim->login(sim->user("totp", "dispatch"));
    for (const auto& w : work) {
      INFO("work order " << w.workOrderId);
      auto effects = sim->admin("GET", "/effects?workOrderId=" + w.workOrderId).json();
      auto added = [&](const char* counter) {
        return effects[counter].get<int>() - w.effectsBefore[counter].get<int>();
      };
      CHECK(added("consumptions") == w.consumptions);
      CHECK(added("attachments") == w.attachments);
      CHECK(added("attachmentsAvailable") == w.attachments);
      auto upstream = sim->call("GET", "/work-orders/" + w.workOrderId, token);
      REQUIRE(upstream.status == 200);
      auto doc = upstream.json();
      CHECK(doc["status"] == w.finalStatus);
      for (const auto& text : w.notes) {
        int seen = 0;
        for (const auto& n : doc["notes"]) seen += n.value("text", "") == text ? 1 : 0;
        INFO("note '" << text << "'");
        CHECK(seen == 1);
      }
      auto cached = agent->localApiContext().store.workOrders().workOrder(w.workOrderId);
      REQUIRE(cached.ok());
      CHECK(cached->doc["status"] == w.finalStatus);
    }
  }

  // One line of figures per run, for docs/reliability.md.
  void report(const json& extra) {
    auto stats = sim->admin("GET", "/stats").json();
    auto c = proxy->counts();
    json line = {{"fault", name},
                 {"operations", operations},
                 {"workOrders", work.size()},
                 {"done", outbox(storage::OpState::done)},
                 {"lost", operations - outbox(storage::OpState::done)},
                 {"proxyConnections", c.connections},
                 {"proxyRequests", c.requests},
                 {"proxyRefused", c.refused},
                 {"proxyFaultsFired", c.faultsFired},
                 {"proxyStalled", c.stalledConnections},
                 {"loopRounds", clock.parks()},
                 {"simAnswers", stats}};
    if (extra.is_object()) line.update(extra);
    std::cerr << "fault-figures: " << line.dump() << std::endl;
  }

  std::string name;
  int seed;
  TempDir dir;
  std::filesystem::path simData = dir / "sim";
  std::unique_ptr<SimProcess> sim;
  std::unique_ptr<FaultProxy> proxy;
  SimUser tech;
  DrivenClock clock{platform::SystemClock().now()};
  platform::FakeConnectivity net;
  std::unique_ptr<agent::Agent> agent;
  int operations = 0;
  std::vector<CapturedWork> work;
};

}  // namespace fieldagent::testing
