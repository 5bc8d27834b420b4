#include <catch2/catch.hpp>

#include <set>

#include "error_code_checks.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::RawDb;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::StoreFixture;

namespace {

std::vector<std::int64_t> readyIds(StoreFixture& f, int limit = 100) {
  auto ready = f.store->outbox().readyOperations(f.clock.now(), limit);
  REQUIRE(ready.ok());
  std::vector<std::int64_t> out;
  for (const auto& op : *ready) out.push_back(op.id);
  return out;
}

void cache(StoreFixture& f, std::initializer_list<const char*> ids) {
  for (const char* id : ids) REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder(id), "\"v1\""}).ok());
}

void send(StoreFixture& f, std::int64_t id) {
  REQUIRE(f.store->outbox().markInFlight(id).ok());
  REQUIRE(f.store->outbox().markDone(id, Json{{"ok", true}}).ok());
}

}  // namespace

TEST_CASE("every operation gets its own idempotency key in the write that records it", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_1"});
  LocalWrite write;
  write.workOrderId = "wo_1";
  write.workOrderPatch = Json{{"status", "completed"}};
  write.operations.push_back({"status", {{"status", "completed"}}, "\"v1\"", {}, {}});
  write.operations.push_back({"note", {{"text", "done"}}, "", {}, {}});
  auto r = f.store->localWrites().applyLocalWrite(write);
  REQUIRE(r.ok());
  REQUIRE(r->operations.size() == 2);
  std::set<std::string> keys;
  for (const auto& op : r->operations) {
    auto stored = f.store->outbox().operation(op.id);
    REQUIRE(stored.ok());
    CHECK(stored->idempotencyKey == op.idempotencyKey);
    CHECK(stored->idempotencyKey.size() > 20);
    CHECK(stored->state == OpState::pending);
    CHECK(stored->workOrderId == "wo_1");
    keys.insert(op.idempotencyKey);
  }
  CHECK(keys.size() == 2);
  CHECK(f.store->outbox().operation(r->operations[0].id)->baseVersion == "\"v1\"");
  CHECK(f.store->outbox().operation(r->operations[1].id)->payload == Json{{"text", "done"}});
}

TEST_CASE("an operation in flight when the agent died goes again with the same key", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_1"});
  const auto write = f.moveStatus("wo_1", "en_route");
  const auto id = write.operations.at(0).id;
  REQUIRE(f.store->outbox().markInFlight(id).ok());
  f.reopen();  // the agent died mid-request
  auto op = f.store->outbox().operation(id);
  REQUIRE(op.ok());
  CHECK(op->state == OpState::pending);
  CHECK(op->idempotencyKey == write.operations.at(0).idempotencyKey);
  CHECK(op->attempts == 1);
  CHECK(readyIds(f) == std::vector<std::int64_t>{id});
}

TEST_CASE("one operation per work order is ready, in order, work orders do not wait on each other", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a", "wo_b"});
  const auto a1 = f.recordOp("wo_a", "status");
  const auto a2 = f.recordOp("wo_a", "note");
  const auto b1 = f.recordOp("wo_b", "status");
  CHECK(readyIds(f) == std::vector<std::int64_t>{a1, b1});
  REQUIRE(f.store->outbox().markInFlight(a1).ok());
  CHECK(readyIds(f) == std::vector<std::int64_t>{b1});
  REQUIRE(f.store->outbox().markDone(a1, Json::object()).ok());
  CHECK(readyIds(f) == std::vector<std::int64_t>{a2, b1});
  CHECK(readyIds(f, 1) == std::vector<std::int64_t>{a2});
}

TEST_CASE("an operation told to retry later holds its work order until it is due", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a", "wo_b"});
  const auto a1 = f.recordOp("wo_a", "status");
  f.recordOp("wo_a", "note");
  const auto b1 = f.recordOp("wo_b", "status");
  REQUIRE(f.store->outbox().markInFlight(a1).ok());
  REQUIRE(f.store->outbox().markRetryLater(a1, f.clock.now() + std::chrono::seconds(30), "503 from upstream").ok());
  CHECK(readyIds(f) == std::vector<std::int64_t>{b1});
  f.clock.advance(std::chrono::seconds(30));
  CHECK(readyIds(f) == std::vector<std::int64_t>{a1, b1});
  auto op = f.store->outbox().operation(a1);
  CHECK(op->lastError == "503 from upstream");
  CHECK(op->attempts == 1);
}

TEST_CASE("a consumption waits for the signature upload it names, even on another work order", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a", "wo_b"});
  const auto upload = f.recordOp("wo_b", "attachment_upload");
  const auto consumption = f.recordOp("wo_a", "consumption", {upload});
  CHECK(readyIds(f) == std::vector<std::int64_t>{upload});
  CHECK(f.store->outbox().operation(consumption)->dependsOn == std::vector<std::int64_t>{upload});
  send(f, upload);
  CHECK(readyIds(f) == std::vector<std::int64_t>{consumption});
}

TEST_CASE("a rejected operation parks, its dependents are held, the rest of its work order goes on", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a"});
  // One write: the signature upload and the consumption that names it; then a later status move.
  LocalWrite capture;
  capture.workOrderId = "wo_a";
  capture.operations.push_back({"attachment_upload", {{"attachmentId", "la_x"}}, "", {}, {}});
  capture.operations.push_back({"consumption", {{"customerSignature", {{"signatureToken", "la_x"}}}}, "", {}, {0}});
  auto captured = f.store->localWrites().applyLocalWrite(capture);
  REQUIRE(captured.ok());
  const auto upload = captured->operations[0].id;
  const auto consumption = captured->operations[1].id;
  const auto status = f.moveStatus("wo_a", "completed").operations.at(0).id;
  const auto oldKey = captured->operations[0].idempotencyKey;

  CHECK(readyIds(f) == std::vector<std::int64_t>{upload});
  REQUIRE(f.store->outbox().markInFlight(upload).ok());
  REQUIRE(f.store->outbox().markRejected(upload, "422 unsupported content type").ok());

  CHECK(readyIds(f) == std::vector<std::int64_t>{status});
  CHECK(f.store->outbox().operation(consumption)->held);
  auto counts = f.store->outbox().outboxCounts();
  CHECK(counts->byState.at(OpState::rejected) == 1);
  CHECK(counts->held == 1);
  CHECK(f.store->outbox().operation(upload)->lastError == "422 unsupported content type");
  send(f, status);

  // A person retries it: a fresh key, the consumption waits for it again.
  REQUIRE(f.store->outbox().retryParked(upload).ok());
  auto retried = f.store->outbox().operation(upload);
  CHECK(retried->state == OpState::pending);
  CHECK(retried->idempotencyKey != oldKey);
  CHECK_FALSE(f.store->outbox().operation(consumption)->held);
  CHECK(readyIds(f) == std::vector<std::int64_t>{upload});
  send(f, upload);
  CHECK(readyIds(f) == std::vector<std::int64_t>{consumption});
}

TEST_CASE("a conflict keeps base, theirs and yours, take-theirs archives and the view follows upstream",
          "[outbox][conflicts]") {
  StoreFixture f;
  cache(f, {"wo_a"});
  const auto status = f.moveStatus("wo_a", "completed").operations.at(0).id;
  const auto labor = f.recordOp("wo_a", "consumption");
  CHECK(f.store->workOrders().workOrder("wo_a")->doc["status"] == "completed");

  REQUIRE(f.store->outbox().markInFlight(status).ok());
  NewConflict c;
  c.field = "status";
  c.base = "scheduled";
  c.theirs = "cancelled";
  c.message = "invalid_transition: work order is cancelled";
  auto conflictId = f.store->outbox().markConflict(status, c);
  REQUIRE(conflictId.ok());
  // The technician's labor is still pushed.
  CHECK(readyIds(f) == std::vector<std::int64_t>{labor});

  auto open = f.store->conflicts().listConflicts(true);
  REQUIRE(open->size() == 1);
  CHECK(open->at(0).operationId == status);
  CHECK(open->at(0).base == "scheduled");
  CHECK(open->at(0).theirs == "cancelled");
  CHECK(open->at(0).yours == Json{{"status", "completed"}});  // the operation's payload when not given
  CHECK(open->at(0).workOrderId == "wo_a");

  Json cancelled = sampleWorkOrder("wo_a", "cancelled");
  cancelled["updatedAt"] = "2026-01-21T11:00:00Z";
  REQUIRE(f.store->workOrders().upsertWorkOrder({cancelled, "\"v9\""}).ok());
  CHECK(f.store->workOrders().workOrder("wo_a")->doc["status"] == "completed");  // still the technician's view

  REQUIRE(f.store->conflicts()
              .resolveConflict(*conflictId, {ConflictChoice::takeTheirs, "", std::nullopt, "dispatcher"})
              .ok());
  CHECK(f.store->outbox().operation(status)->state == OpState::archived);
  CHECK(f.store->workOrders().workOrder("wo_a")->doc["status"] == "cancelled");
  CHECK(f.store->conflicts().listConflicts(true)->empty());
  auto all = f.store->conflicts().listConflicts(false);
  REQUIRE(all->size() == 1);
  CHECK(all->at(0).resolution == "take_theirs");
  CHECK(all->at(0).resolvedAt.has_value());
  CHECK(f.store->conflicts().resolveConflict(*conflictId, {}).error().code == "wrong_state");
}

TEST_CASE("keep-mine sends the operation again on the new base with a new key, edit replaces its payload",
          "[outbox][conflicts]") {
  StoreFixture f;
  cache(f, {"wo_a"});
  const auto write = f.moveStatus("wo_a", "on_site");
  const auto status = write.operations.at(0).id;
  REQUIRE(f.store->outbox().markInFlight(status).ok());
  auto conflictId =
      f.store->outbox().markConflict(status, {"status", "\"v1\"", "\"v2\"", nullptr, "precondition_failed"});
  REQUIRE(conflictId.ok());
  REQUIRE(f.store->conflicts()
              .resolveConflict(*conflictId, {ConflictChoice::keepMine, "\"v2\"", std::nullopt, "tech"})
              .ok());
  auto op = f.store->outbox().operation(status);
  CHECK(op->state == OpState::pending);
  CHECK(op->baseVersion == "\"v2\"");
  CHECK(op->idempotencyKey != write.operations.at(0).idempotencyKey);
  CHECK(readyIds(f) == std::vector<std::int64_t>{status});

  REQUIRE(f.store->outbox().markInFlight(status).ok());
  REQUIRE(f.store->outbox().markRejected(status, "422 note too long").ok());
  REQUIRE(f.store->outbox().editParked(status, Json{{"status", "on_site"}, {"note", "short"}}).ok());
  op = f.store->outbox().operation(status);
  CHECK(op->state == OpState::pending);
  CHECK(op->payload["note"] == "short");
  CHECK(op->baseVersion == "\"v2\"");
}

TEST_CASE("state moves refuse operations that are not in the state they start from", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a"});
  const auto id = f.recordOp("wo_a", "note");
  CHECK(f.store->outbox().markDone(id, Json::object()).error().code == "wrong_state");
  CHECK(f.store->outbox().retryParked(id).error().code == "wrong_state");
  REQUIRE(f.store->outbox().markInFlight(id).ok());
  auto again = f.store->outbox().markInFlight(id);
  CHECK(again.error().code == "wrong_state");
  CHECK(again.error().message.find("in_flight") != std::string::npos);
  REQUIRE(f.store->outbox().markDone(id, Json{{"noteId", "n_1"}}).ok());
  CHECK(f.store->outbox().discard(id).error().code == "wrong_state");
  CHECK(f.store->outbox().operation(id)->result == Json{{"noteId", "n_1"}});
  CHECK(f.store->outbox().markInFlight(424242).error().code == "not_found");
}

TEST_CASE("discarding archives an operation and keeps it listed, nothing is deleted", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a"});
  const auto id = f.moveStatus("wo_a", "en_route").operations.at(0).id;
  REQUIRE(f.store->outbox().markInFlight(id).ok());
  REQUIRE(f.store->outbox().markRejected(id, "403 forbidden").ok());
  REQUIRE(f.store->outbox().discard(id).ok());
  auto archived = f.store->outbox().listOperations({OpState::archived, std::nullopt, 0, 10});
  REQUIRE(archived->size() == 1);
  CHECK(archived->at(0).id == id);
  CHECK(archived->at(0).lastError == "403 forbidden");
  CHECK(f.store->workOrders().workOrder("wo_a")->doc["status"] == "scheduled");
  CHECK_FALSE(f.store->workOrders().workOrder("wo_a")->hasLocalChanges);
  CHECK(readyIds(f).empty());
}

TEST_CASE("counts by state and the oldest pending operation's age", "[outbox]") {
  StoreFixture f;
  cache(f, {"wo_a", "wo_b"});
  const auto first = f.recordOp("wo_a", "note");
  const WallTime firstAt = f.clock.now();
  f.clock.advance(std::chrono::minutes(5));
  f.recordOp("wo_b", "note");
  send(f, first);
  auto counts = f.store->outbox().outboxCounts();
  REQUIRE(counts.ok());
  CHECK(counts->byState.at(OpState::done) == 1);
  CHECK(counts->byState.at(OpState::pending) == 1);
  CHECK(counts->byState.at(OpState::conflict) == 0);
  CHECK(*counts->oldestPendingCreatedAt == firstAt + std::chrono::minutes(5));
}

TEST_CASE("the ready query searches indexes and does not scan the outbox's history", "[outbox][plan]") {
  StoreFixture f;
  cache(f, {"wo_a", "wo_b"});
  // A month of history: the query must not get slower with it.
  for (int i = 0; i < 300; ++i) send(f, f.recordOp(i % 2 ? "wo_a" : "wo_b", "note"));
  const auto live = f.recordOp("wo_a", "note");
  f.reopen();
  auto plan = f.store->outbox().explainReadyOperations();
  REQUIRE(plan.ok());
  std::string all;
  for (const auto& line : *plan) all += line + "\n";
  INFO(all);
  // A scan of the partial index walks the live operations only, never the done history.
  CHECK(all.find("SCAN o USING INDEX outbox_queue") != std::string::npos);
  for (const auto& line : *plan) {
    const bool scan = line.rfind("SCAN ", 0) == 0;
    CHECK_FALSE((scan && line.find("INDEX") == std::string::npos));
  }
  CHECK(readyIds(f) == std::vector<std::int64_t>{live});
}
