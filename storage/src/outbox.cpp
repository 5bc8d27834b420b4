// The Outbox part: state moves of operations, the ready queue, and the records a
// person decides on.
#include <string>
#include <utility>

#include "fieldagent/storage/store.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

constexpr const char* kOpColumns =
    "id, write_id, kind, work_order_id, payload, idempotency_key, base_version, state, held, attempts, "
    "next_attempt_at, last_error, result, created_at, updated_at";

Result<OutboxOp> readOp(Database& db, Statement& row) {
  OutboxOp op;
  op.id = row.integer(0);
  op.writeId = row.integer(1);
  op.kind = row.text(2);
  op.workOrderId = row.text(3);
  auto payload = detail::parseStored(row.text(4), "payload of operation " + std::to_string(op.id));
  if (!payload) return payload.error();
  op.payload = std::move(payload).value();
  op.idempotencyKey = row.text(5);
  op.baseVersion = row.text(6);
  const auto state = parseOpState(row.text(7));
  if (!state) return makeError("corrupt", "operation " + std::to_string(op.id) + " has an unknown state");
  op.state = *state;
  op.held = row.integer(8) != 0;
  op.attempts = static_cast<int>(row.integer(9));
  op.nextAttemptAt = fromMillis(row.integer(10));
  op.lastError = row.text(11);
  if (!row.isNull(12)) {
    auto result = detail::parseStored(row.text(12), "upstream answer of operation " + std::to_string(op.id));
    if (!result) return result.error();
    op.result = std::move(result).value();
  }
  op.createdAt = fromMillis(row.integer(13));
  op.updatedAt = fromMillis(row.integer(14));
  auto deps = db.prepare("SELECT depends_on FROM outbox_deps WHERE op_id = ?1 ORDER BY depends_on");
  if (!deps) return deps.error();
  deps->bind(1, op.id);
  while (true) {
    auto more = deps->step();
    if (!more) return more.error();
    if (!*more) break;
    op.dependsOn.push_back(deps->integer(0));
  }
  return op;
}

Result<OutboxOp> loadOp(Database& db, std::int64_t id) {
  auto stmt = db.prepare(std::string("SELECT ") + kOpColumns + " FROM outbox WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", "operation " + std::to_string(id) + " is not in the outbox");
  return readOp(db, *stmt);
}

Result<std::vector<OutboxOp>> loadOps(Database& db, const std::vector<std::int64_t>& ids) {
  std::vector<OutboxOp> out;
  for (std::int64_t id : ids) {
    auto op = loadOp(db, id);
    if (!op) return op.error();
    out.push_back(std::move(op).value());
  }
  return out;
}

Result<std::vector<std::int64_t>> collectIds(Statement& stmt) {
  std::vector<std::int64_t> ids;
  while (true) {
    auto more = stmt.step();
    if (!more) return more.error();
    if (!*more) break;
    ids.push_back(stmt.integer(0));
  }
  return ids;
}

// Moves `id` from one of the states in `from` (an SQL list) to `to`; "wrong_state" otherwise.
Result<void> moveState(Database& db, std::int64_t id, const std::string& from, OpState to, std::int64_t now,
                       const std::string& verb) {
  auto stmt = db.prepare("UPDATE outbox SET state = ?2, updated_at = ?3 WHERE id = ?1 AND state IN (" + from + ")");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, id).bind(2, toString(to)).bind(3, now).run(); !r) return r;
  if (db.changes() == 1) return {};
  auto op = loadOp(db, id);
  if (!op) return op.error();
  return makeError("wrong_state", "cannot " + verb + " operation " + std::to_string(id) + ": it is " +
                                      std::string(toString(op->state)));
}

constexpr const char* kReadySql =
    "SELECT o.id FROM outbox o INDEXED BY outbox_queue "
    "WHERE o.state IN ('pending', 'in_flight') AND o.held = 0 "
    "AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.work_order_id = o.work_order_id "
    "            AND h.state IN ('pending', 'in_flight') AND h.held = 0) "
    "AND o.state = 'pending' AND o.next_attempt_at <= ?1 "
    "AND NOT EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox t ON t.id = d.depends_on "
    "                WHERE d.op_id = o.id AND t.state <> 'done') "
    "ORDER BY o.id LIMIT ?2";

}  // namespace

std::string_view toString(OpState state) {
  switch (state) {
    case OpState::pending:
      return "pending";
    case OpState::in_flight:
      return "in_flight";
    case OpState::done:
      return "done";
    case OpState::conflict:
      return "conflict";
    case OpState::rejected:
      return "rejected";
    case OpState::archived:
      return "archived";
  }
  return "unknown";
}

std::optional<OpState> parseOpState(std::string_view text) {
  for (OpState s :
       {OpState::pending, OpState::in_flight, OpState::done, OpState::conflict, OpState::rejected, OpState::archived}) {
    if (toString(s) == text) return s;
  }
  return std::nullopt;
}

namespace detail {

Result<void> refreshHolds(Database& db, std::int64_t opId) {
  auto stmt = db.prepare(
      "WITH RECURSIVE below(id) AS (SELECT op_id FROM outbox_deps WHERE depends_on = ?1 "
      "UNION SELECT d.op_id FROM outbox_deps d JOIN below b ON d.depends_on = b.id) "
      "SELECT id FROM below ORDER BY id");
  if (!stmt) return stmt.error();
  stmt->bind(1, opId);
  auto ids = collectIds(*stmt);
  if (!ids) return ids.error();
  // A dependency always has a smaller id than its dependent (the schema checks it), so in id
  // order every dependency is settled before the operations that wait on it.
  for (std::int64_t id : *ids) {
    auto update = db.prepare(
        "UPDATE outbox SET held = EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox t ON t.id = d.depends_on "
        "WHERE d.op_id = ?1 AND (t.state IN ('rejected', 'conflict', 'archived') OR t.held = 1)) WHERE id = ?1");
    if (!update) return update.error();
    if (auto r = update->bind(1, id).run(); !r) return r;
  }
  return {};
}


// Sends a parked operation again: pending, due now, with a fresh idempotency key. Upstream
// recorded no effect for a rejected or conflicting request, so a new key cannot duplicate one;
// reusing the old key would replay the old refusal, or be refused for a changed body.
Result<void> requeueParked(Database& db, platform::Entropy& entropy, std::int64_t id, std::int64_t now,
                           const std::optional<std::string>& baseVersion, const std::optional<Json>& payload) {
  if (auto r = moveState(db, id, "'rejected', 'conflict'", OpState::pending, now, "retry"); !r) return r;
  auto stmt = db.prepare(
      "UPDATE outbox SET idempotency_key = ?2, next_attempt_at = 0, base_version = COALESCE(?3, base_version), "
      "payload = COALESCE(?4, payload) WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id).bind(2, "fa_" + detail::randomHex(entropy, 16)).bind(3, baseVersion);
  if (payload) {
    stmt->bind(4, payload->dump());
  } else {
    stmt->bindNull(4);
  }
  if (auto r = stmt->run(); !r) return r;
  return detail::refreshHolds(db, id);
}

Result<void> archiveOp(Database& db, std::int64_t id, std::int64_t now) {
  if (auto r = moveState(db, id, "'pending', 'rejected', 'conflict'", OpState::archived, now, "discard"); !r) return r;
  auto op = loadOp(db, id);
  if (!op) return op.error();
  if (auto r = detail::refreshHolds(db, id); !r) return r;
  return detail::settleArchivedWrite(db, op->writeId);
}

}  // namespace detail

namespace {

Result<void> closeConflictsOf(Database& db, std::int64_t opId, const std::string& resolution, const std::string& note,
                              std::int64_t now) {
  auto stmt = db.prepare(
      "UPDATE conflicts SET state = 'resolved', resolution = ?2, resolution_note = ?3, resolved_at = ?4 "
      "WHERE operation_id = ?1 AND state = 'open'");
  if (!stmt) return stmt.error();
  return stmt->bind(1, opId).bind(2, resolution).bind(3, note).bind(4, now).run();
}

}  // namespace

Result<std::vector<OutboxOp>> Outbox::readyOperations(WallTime now, int limit) {
  if (limit < 1) return makeError("invalid", "limit must be 1 or more");
  auto lock = core_.db().lock();
  // The head of each work order's queue is its oldest live (pending or in-flight) operation that
  // is not held; it is ready when it is pending, due, and all it depends on is done. Both the
  // outer scan and the head lookup use the partial index outbox_queue, which holds live
  // operations only, so the cost follows the queue, not the history.
  auto stmt = core_.db().prepare(kReadySql);
  if (!stmt) return stmt.error();
  stmt->bind(1, toMillis(now)).bind(2, limit);
  auto ids = collectIds(*stmt);
  if (!ids) return ids.error();
  return loadOps(core_.db(), *ids);
}

Result<std::vector<std::string>> Outbox::explainReadyOperations() {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(std::string("EXPLAIN QUERY PLAN ") + kReadySql);
  if (!stmt) return stmt.error();
  std::vector<std::string> plan;
  while (true) {
    auto more = stmt->step();
    if (!more) return more.error();
    if (!*more) break;
    plan.push_back(stmt->text(3));
  }
  return plan;
}

Result<OutboxOp> Outbox::operation(std::int64_t id) {
  auto lock = core_.db().lock();
  return loadOp(core_.db(), id);
}

Result<std::vector<OutboxOp>> Outbox::listOperations(const OutboxFilter& filter) {
  if (filter.limit < 1) return makeError("invalid", "limit must be 1 or more");
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(
      "SELECT id FROM outbox WHERE id > ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR work_order_id = ?3) "
      "ORDER BY id LIMIT ?4");
  if (!stmt) return stmt.error();
  stmt->bind(1, filter.afterId);
  if (filter.state) {
    stmt->bind(2, toString(*filter.state));
  } else {
    stmt->bindNull(2);
  }
  stmt->bind(3, filter.workOrderId).bind(4, filter.limit);
  auto ids = collectIds(*stmt);
  if (!ids) return ids.error();
  return loadOps(core_.db(), *ids);
}

Result<OutboxCounts> Outbox::outboxCounts() {
  auto lock = core_.db().lock();
  OutboxCounts counts;
  for (OpState s :
       {OpState::pending, OpState::in_flight, OpState::done, OpState::conflict, OpState::rejected, OpState::archived}) {
    counts.byState[s] = 0;
  }
  {
    auto stmt = core_.db().prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state");
    if (!stmt) return stmt.error();
    while (true) {
      auto more = stmt->step();
      if (!more) return more.error();
      if (!*more) break;
      if (auto s = parseOpState(stmt->text(0))) counts.byState[*s] = stmt->integer(1);
    }
  }
  {
    auto stmt = core_.db().prepare("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight') AND held = 1");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    counts.held = stmt->integer(0);
  }
  {
    auto stmt = core_.db().prepare("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    if (!stmt->isNull(0)) counts.oldestPendingCreatedAt = fromMillis(stmt->integer(0));
  }
  return counts;
}

Result<void> Outbox::markInFlight(std::int64_t id) {
  auto lock = core_.db().lock();
  // This commit is not waited on to reach the disk (synchronous=NORMAL for it alone): the store
  // puts in-flight operations back to pending when it opens, so after a power cut a lost mark
  // leaves the operation exactly where that would (pending, same Idempotency-Key). WAL keeps
  // commits in order, so the next FULL commit makes it durable with its own. This takes one
  // of the three fsyncs per pushed operation away.
  struct RelaxedCommit {
    Database& db;
    bool active;
    RelaxedCommit(Database& d, bool full) : db(d), active(full && static_cast<bool>(d.exec("PRAGMA synchronous = NORMAL"))) {}
    ~RelaxedCommit() {
      if (active) (void)db.exec("PRAGMA synchronous = FULL");
    }
  } relaxed(core_.db(), core_.options.durability == Durability::full);
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = moveState(core_.db(), id, "'pending'", OpState::in_flight, now, "send"); !r) return r;
  auto count = core_.db().prepare("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?1");
  if (!count) return count.error();
  if (auto r = count->bind(1, id).run(); !r) return r;
  return txn->commit();
}

Result<void> Outbox::markDone(std::int64_t id, const Json& upstreamAnswer,
                             const std::optional<ServerWorkOrder>& freshCopy,
                             const std::optional<std::string>& rebaseFromVersion) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = moveState(core_.db(), id, "'in_flight'", OpState::done, now, "complete"); !r) return r;
  auto stmt = core_.db().prepare("UPDATE outbox SET result = ?2, last_error = NULL WHERE id = ?1");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, id).bind(2, upstreamAnswer.dump()).run(); !r) return r;
  // After the move to done, so the fold of confirmed local changes counts this operation.
  if (freshCopy && freshCopy->doc.is_object() && !detail::stringField(freshCopy->doc, "workOrderId").empty()) {
    if (auto r = detail::storeServerCopies(core_.db(), {*freshCopy}, now); !r) return r;
    if (rebaseFromVersion && !rebaseFromVersion->empty() && !freshCopy->etag.empty()) {
      auto rebase = core_.db().prepare(
          "UPDATE outbox SET base_version = ?3 WHERE work_order_id = ?1 AND state = 'pending' AND base_version = ?2 "
          "AND id > ?4");
      if (!rebase) return rebase.error();
      rebase->bind(1, detail::stringField(freshCopy->doc, "workOrderId"))
          .bind(2, *rebaseFromVersion)
          .bind(3, freshCopy->etag)
          .bind(4, id);
      if (auto r = rebase->run(); !r) return r;
    }
  }
  return txn->commit();
}

Result<void> Outbox::markRetryLater(std::int64_t id, WallTime nextAttemptAt, const std::string& error) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = moveState(core_.db(), id, "'in_flight', 'pending'", OpState::pending, now, "reschedule"); !r) return r;
  auto stmt = core_.db().prepare("UPDATE outbox SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, id).bind(2, toMillis(nextAttemptAt)).bind(3, error).run(); !r) return r;
  return txn->commit();
}

Result<void> Outbox::markRejected(std::int64_t id, const std::string& upstreamMessage) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = moveState(core_.db(), id, "'in_flight'", OpState::rejected, now, "reject"); !r) return r;
  auto stmt = core_.db().prepare("UPDATE outbox SET last_error = ?2 WHERE id = ?1");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, id).bind(2, upstreamMessage).run(); !r) return r;
  if (auto r = detail::refreshHolds(core_.db(), id); !r) return r;
  return txn->commit();
}

Result<std::int64_t> Outbox::markConflict(std::int64_t id, const NewConflict& conflict) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = moveState(core_.db(), id, "'in_flight'", OpState::conflict, now, "mark in conflict"); !r) return r.error();
  auto op = loadOp(core_.db(), id);
  if (!op) return op.error();
  {
    auto stmt = core_.db().prepare("UPDATE outbox SET last_error = ?2 WHERE id = ?1");
    if (!stmt) return stmt.error();
    if (auto r = stmt->bind(1, id).bind(2, conflict.message).run(); !r) return r.error();
  }
  auto insert = core_.db().prepare(
      "INSERT INTO conflicts (operation_id, work_order_id, field, base, theirs, yours, message, state, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)");
  if (!insert) return insert.error();
  insert->bind(1, id)
      .bind(2, op->workOrderId)
      .bind(3, conflict.field.empty() ? op->kind : conflict.field)
      .bind(4, conflict.base.dump())
      .bind(5, conflict.theirs.dump())
      .bind(6, (conflict.yours.is_null() ? op->payload : conflict.yours).dump())
      .bind(7, conflict.message)
      .bind(8, now);
  if (auto r = insert->run(); !r) return r.error();
  const std::int64_t conflictId = core_.db().lastInsertId();
  if (auto r = detail::refreshHolds(core_.db(), id); !r) return r.error();
  if (auto r = txn->commit(); !r) return r.error();
  return conflictId;
}

Result<void> Outbox::retryParked(std::int64_t id, const std::optional<std::string>& newBaseVersion) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = detail::requeueParked(core_.db(), core_.entropy, id, now, newBaseVersion, std::nullopt); !r) return r;
  if (auto r = closeConflictsOf(core_.db(), id, "keep_mine", "retried", now); !r) return r;
  return txn->commit();
}

Result<void> Outbox::editParked(std::int64_t id, const Json& payload) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = detail::requeueParked(core_.db(), core_.entropy, id, now, std::nullopt, payload); !r) return r;
  if (auto r = closeConflictsOf(core_.db(), id, "edit", "edited", now); !r) return r;
  return txn->commit();
}

Result<void> Outbox::discard(std::int64_t id) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
  if (auto r = detail::archiveOp(core_.db(), id, now); !r) return r;
  if (auto r = closeConflictsOf(core_.db(), id, "take_theirs", "discarded", now); !r) return r;
  return txn->commit();
}

}  // namespace fieldagent::storage
