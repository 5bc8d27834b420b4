// The sync queue against the reference upstream: a day of offline work reaching upstream once,
// through faults, with conflicts caught and rejections parked without blocking anything else.
#include <catch2/catch.hpp>

#include <map>

#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/conflicts.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::SyncFixture;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Queue {
  explicit Queue(SyncFixture& f, PushOptions options = {})
      : f(f), puller(f.puller()), capture(*f.store, *f.session, f.clock),
        pusher(f.client, *f.store, *f.session, f.clock, platform::systemEntropy(), options), desk(*f.store) {
    auto primed = puller.pull();
    REQUIRE(primed.ok());
  }

  // Drains, moving the fake clock past every back-off, until nothing is left to send or the
  // rounds run out. Returns the rounds used.
  int drainAll(int maxRounds = 60) {
    for (int round = 1; round <= maxRounds; ++round) {
      auto report = pusher.drain();
      REQUIRE(report.ok());
      auto counts = f.store->outbox().outboxCounts().value();
      if (counts.byState[storage::OpState::pending] + counts.byState[storage::OpState::in_flight] == 0) return round;
      f.clock.advance(10min);
    }
    return maxRounds + 1;
  }

  json upstream(const std::string& workOrderId) {
    auto r = f.sim.call("GET", "/work-orders/" + workOrderId, dispatcherToken());
    REQUIRE(r.status == 200);
    return r.json();
  }

  const std::string& dispatcherToken() {
    if (dispatcher.empty()) dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
    return dispatcher;
  }

  int upstreamConsumptions(const std::string& workOrderId) {
    return f.sim.admin("GET", "/effects?workOrderId=" + workOrderId).json()["consumptions"].get<int>();
  }

  std::vector<storage::WorkOrder> mine(const std::set<std::string>& statuses, std::size_t n) {
    std::vector<storage::WorkOrder> out;
    for (const auto& id : f.store->workOrders().workOrderIds().value()) {
      auto found = f.store->workOrders().workOrder(id);
      if (!found) {
        std::fprintf(stderr, "%s: %s: %s\n", id.c_str(), found.error().code.str().c_str(), found.error().message.c_str());
        FAIL("work order not readable");
      }
      auto wo = std::move(found).value();
      if (statuses.count(wo.doc["status"].get<std::string>()) && out.size() < n) out.push_back(wo);
    }
    return out;
  }

  SyncFixture& f;
  Puller& puller;
  Capture capture;
  Pusher pusher;
  ConflictDesk desk;
  std::string dispatcher;
};

// The path a technician takes from `from` to completed.
std::vector<std::string> pathToCompleted(const std::string& from) {
  const std::vector<std::string> order = {"scheduled", "en_route", "on_site", "completed"};
  auto it = std::find(order.begin(), order.end(), from);
  if (it == order.end()) return {};
  return {std::next(it), order.end()};
}

struct Day {
  std::map<std::string, std::string> finalStatus;
  std::map<std::string, std::string> noteText;
  std::map<std::string, int> consumptions;
};

// A day's work on every cached work order the technician can work: moves to completed, labor
// and a part from the van, a note.
Day workOffline(Queue& q, std::size_t workOrders) {
  Day day;
  auto list = q.mine({"scheduled", "en_route", "on_site"}, workOrders);
  REQUIRE(list.size() >= std::min<std::size_t>(workOrders, 10));
  const std::string me = *q.f.technician().technicianId;
  const std::string van =
      q.f.store->referenceData().reference(storage::ReferenceKind::technician, me).value()["vanWarehouseId"];
  const auto stock = q.f.store->referenceData().stock(van).value();
  REQUIRE_FALSE(stock.empty());
  int n = 0;
  for (const auto& wo : list) {
    const std::string id = wo.workOrderId;
    for (const auto& status : pathToCompleted(wo.doc["status"])) {
      auto moved = q.capture.moveStatus(id, {{"status", status}});
      REQUIRE(moved.ok());
    }
    day.finalStatus[id] = "completed";
    const auto& line = stock[static_cast<std::size_t>(n) % stock.size()];
    json consumption = {
        {"parts", {{{"partNumber", line.partNumber}, {"quantity", 1}, {"uom", "EA"}, {"bin", line.bin}}}},
        {"labor", {{{"laborType", "regular"}, {"hours", 1.5}, {"notes", "offline day " + id}}}}};
    auto recorded = q.capture.recordConsumption(id, consumption);
    if (!recorded) FAIL(recorded.error().message);
    day.consumptions[id] = 1;
    day.noteText[id] = "offline note for " + id;
    REQUIRE(q.capture.addNote(id, {{"text", day.noteText[id]}}).ok());
    ++n;
  }
  return day;
}

void checkDayUpstream(Queue& q, const Day& day) {
  for (const auto& [id, status] : day.finalStatus) {
    CAPTURE(id);
    const json wo = q.upstream(id);
    CHECK(wo["status"] == status);
    CHECK(q.upstreamConsumptions(id) == day.consumptions.at(id));
    int notes = 0;
    for (const auto& note : wo["notes"]) notes += note["text"] == day.noteText.at(id) ? 1 : 0;
    CHECK(notes == 1);
  }
}

}  // namespace

TEST_CASE("a day offline reaches upstream exactly once, in order per work order", "[pusher]") {
  SyncFixture f({"--seed", "400", "--technicians", "3"});
  Queue q(f);
  const Day day = workOffline(q, 50);
  REQUIRE(day.finalStatus.size() == 50);
  const auto captured = f.store->outbox().outboxCounts().value();
  CHECK(captured.byState.at(storage::OpState::pending) > 100);

  const auto statsBefore = f.sim.admin("GET", "/stats").json()["byStatus"];
  CHECK(q.drainAll() == 1);  // no faults: one drain sends everything
  // Work orders moved more than once offline: each move after the first was captured on the
  // version before the first, and goes on the version upstream answered the first with (the
  // change between is our own), so not one If-Match fails on our own edits.
  const auto statsAfter = f.sim.admin("GET", "/stats").json()["byStatus"];
  CHECK(statsAfter.value("412", 0) == statsBefore.value("412", 0));
  CHECK(statsAfter.value("409", 0) == statsBefore.value("409", 0));
  const auto counts = f.store->outbox().outboxCounts().value();
  CHECK(counts.byState.at(storage::OpState::done) == captured.byState.at(storage::OpState::pending));
  CHECK(counts.byState.at(storage::OpState::conflict) == 0);
  CHECK(counts.byState.at(storage::OpState::rejected) == 0);
  for (const auto& o : f.store->outbox().listOperations({storage::OpState::rejected, std::nullopt, 0, 5}).value()) {
    std::fprintf(stderr, "%s rejected: %s\n", o.kind.c_str(), o.lastError.c_str());
  }
  checkDayUpstream(q, day);

  // The cache equals the server's view once the next pull has run.
  REQUIRE(q.puller.pull().ok());
  for (const auto& [id, status] : day.finalStatus) {
    auto cached = f.store->workOrders().workOrder(id).value();
    CHECK_FALSE(cached.hasLocalChanges);
    CHECK(cached.doc == q.upstream(id));
  }
}

TEST_CASE("the same day converges through 503s, 429s, latency and dropped connections", "[pusher]") {
  SyncFixture f({"--seed", "150", "--technicians", "3"});
  Queue q(f);
  const Day day = workOffline(q, 30);
  REQUIRE(f.sim.admin("PUT", "/faults",
                      {{"error503Share", 0.1}, {"throttle429Share", 0.1}, {"dropShare", 0.1}, {"latencyMs", 2},
                       {"retryAfterSeconds", 3}})
              .status == 200);
  const int rounds = q.drainAll(80);
  CHECK(rounds <= 80);
  CHECK(rounds > 1);  // the faults did bite
  REQUIRE(f.sim.admin("DELETE", "/faults").status == 200);
  checkDayUpstream(q, day);
  CHECK(f.store->outbox().outboxCounts().value().byState.at(storage::OpState::rejected) == 0);
}

TEST_CASE("cancelled and reassigned under the technician's feet: conflicts, captured work still pushed",
          "[pusher]") {
  SyncFixture f({"--seed", "60", "--technicians", "3"});
  Queue q(f);
  auto scheduled = q.mine({"scheduled"}, 2);
  REQUIRE(scheduled.size() == 2);
  const std::string cancelled = scheduled[0].workOrderId;
  const std::string reassigned = scheduled[1].workOrderId;
  for (const auto& id : {cancelled, reassigned}) {
    for (const char* s : {"en_route", "on_site", "completed"}) REQUIRE(q.capture.moveStatus(id, {{"status", s}}).ok());
    REQUIRE(q.capture.recordConsumption(id, {{"labor", {{{"laborType", "regular"}, {"hours", 2}}}}}).ok());
  }
  // Meanwhile, in the office:
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + cancelled, q.dispatcherToken(), {{"status", "cancelled"}}).status ==
          200);
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + reassigned, q.dispatcherToken(),
                     {{"assignedTechnicianIds", json::array({*f.sim.user("sms").technicianId})}})
              .status == 200);

  q.drainAll();
  auto conflicts = f.store->conflicts().listConflicts(true).value();
  REQUIRE(conflicts.size() == 2);
  std::map<std::string, storage::ConflictRecord> byWorkOrder;
  for (auto& c : conflicts) byWorkOrder[c.workOrderId] = c;
  const auto& c1 = byWorkOrder.at(cancelled);
  CHECK(c1.field == "status");
  CHECK(c1.theirs["status"] == "cancelled");
  CHECK(c1.yours["status"] == "en_route");
  CHECK(c1.base["status"] == "scheduled");
  const auto& c2 = byWorkOrder.at(reassigned);
  CHECK(c2.field == "assignment");
  CHECK_FALSE(c2.theirs["assignedTechnicianIds"].empty());
  // Labor is the technician's record: pushed regardless.
  CHECK(q.upstreamConsumptions(cancelled) == 1);
  CHECK(q.upstreamConsumptions(reassigned) == 1);

  // Take theirs on the cancelled one: my moves are archived, the view shows cancelled.
  REQUIRE(q.desk.resolve(c1.id, storage::ConflictChoice::takeTheirs, std::nullopt, "dispatcher cancelled").ok());
  // Keep mine on the reassigned one: my moves go again on the new version.
  REQUIRE(q.desk.resolve(c2.id, storage::ConflictChoice::keepMine, std::nullopt, "I did the job").ok());
  q.drainAll();
  CHECK(f.store->conflicts().listConflicts(true).value().empty());
  CHECK(q.upstream(cancelled)["status"] == "cancelled");
  CHECK(f.store->workOrders().workOrder(cancelled).value().doc["status"] == "cancelled");
  CHECK(q.upstream(reassigned)["status"] == "completed");
  const auto archived = f.store->outbox().listOperations({storage::OpState::archived, cancelled, 0, 100}).value();
  CHECK(archived.size() == 3);  // kept, not deleted
}

TEST_CASE("a rejected operation blocks neither other work orders nor its own independent work", "[pusher]") {
  SyncFixture f({"--seed", "60", "--technicians", "3"});
  Queue q(f);
  auto list = q.mine({"scheduled"}, 2);
  REQUIRE(list.size() == 2);
  const std::string bad = list[0].workOrderId;
  const std::string good = list[1].workOrderId;
  // A signature token upstream never issued: permanently refused (422 unknown_upload).
  REQUIRE(q.capture
              .recordConsumption(bad, {{"labor", {{{"laborType", "regular"}, {"hours", 1}}}},
                                       {"customerSignature",
                                        {{"name", "Dana Harris"},
                                         {"signedAt", "2026-01-21T17:35:00Z"},
                                         {"signatureToken", "upl_forged"}}}})
              .ok());
  REQUIRE(q.capture.moveStatus(bad, {{"status", "en_route"}}).ok());
  REQUIRE(q.capture.moveStatus(good, {{"status", "en_route"}}).ok());
  q.drainAll();
  auto rejected = f.store->outbox().listOperations({storage::OpState::rejected, std::nullopt, 0, 10}).value();
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].workOrderId == bad);
  CHECK_THAT(rejected[0].lastError, Catch::Contains("unknown_upload"));
  CHECK(q.upstream(bad)["status"] == "en_route");
  CHECK(q.upstream(good)["status"] == "en_route");

  // Retried after a fix (here: the edit removes the unknown part), it goes through.
  json fixed = {{"labor", {{{"laborType", "regular"}, {"hours", 1}}}}};
  REQUIRE(q.capture.editParked(rejected[0].id, fixed).ok());
  q.drainAll();
  CHECK(f.store->outbox().operation(rejected[0].id).value().state == storage::OpState::done);
  CHECK(q.upstreamConsumptions(bad) == 1);
}

TEST_CASE("a refused certificate is not a rejection: operations wait on the slow schedule, then go", "[pusher]") {
  SyncFixture f({"--seed", "61"});
  Queue q(f);
  auto list = q.mine({"scheduled"}, 1);
  REQUIRE(list.size() == 1);
  const std::string id = list[0].workOrderId;
  REQUIRE(q.capture.moveStatus(id, {{"status", "en_route"}}).ok());

  int refused = 0;
  f.http.refuse = [&](const platform::HttpRequest&) -> std::optional<Error> {
    ++refused;
    return makeError("tls_pin_mismatch", "TLS handshake with upstream failed: the server's public key is not pinned");
  };
  auto report = q.pusher.drain();
  REQUIRE(report.ok());
  CHECK(report->retried == 1);
  CHECK(report->rejected == 0);
  CHECK(refused == 1);
  auto ops = f.store->outbox().listOperations({storage::OpState::pending, id, 0, 10}).value();
  REQUIRE(ops.size() == 1);
  CHECK(ops[0].attempts == 1);
  CHECK_THAT(ops[0].lastError, Catch::StartsWith("tls_pin_mismatch: "));
  // The slow schedule, not the transient back-off (1 s doubling) and without jitter.
  CHECK(ops[0].nextAttemptAt >= f.clock.now() + tuning::kBlockedRetry - 1s);
  CHECK(ops[0].nextAttemptAt <= f.clock.now() + tuning::kBlockedRetry + 1s);

  // Due again just before the slow schedule says (a person asked for a sync without lifting the
  // block): the client does not even try the handshake.
  REQUIRE(f.store->outbox().markRetryLater(ops[0].id, f.clock.now(), ops[0].lastError).ok());
  REQUIRE(q.pusher.drain().ok());
  CHECK(refused == 1);
  CHECK(f.store->outbox().operation(ops[0].id).value().state == storage::OpState::pending);

  // The pin is fixed; on the slow schedule the operation goes through, exactly once.
  f.http.refuse = nullptr;
  f.clock.advance(tuning::kBlockedRetry + 1s);
  REQUIRE(q.pusher.drain().ok());
  CHECK(f.store->outbox().operation(ops[0].id).value().state == storage::OpState::done);
  CHECK(q.upstream(id)["status"] == "en_route");
}
