// The Outbox part: the ready queue, listings and counts, and the state moves of operations, all
// through one move (moveOp) that checks the state it starts from and does the bookkeeping.
#include <string>
#include <utility>

#include "fieldagent/storage/outbox.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

constexpr detail::EnumName<OpState> kStateNames[] = {{OpState::pending, "pending"},   {OpState::in_flight, "in_flight"},
                                                     {OpState::done, "done"},         {OpState::conflict, "conflict"},
                                                     {OpState::rejected, "rejected"}, {OpState::archived, "archived"}};

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
  auto deps = db.query("SELECT depends_on FROM outbox_deps WHERE op_id = ?1 ORDER BY depends_on", op.id);
  if (!deps) return deps.error();
  auto dependsOn = deps->rows(detail::integerColumn);
  if (!dependsOn) return dependsOn.error();
  op.dependsOn = std::move(dependsOn).value();
  return op;
}

// The operations with the ids a query returns (its first column), in its order.
Result<std::vector<OutboxOp>> loadOps(Database& db, Result<Statement> idQuery) {
  if (!idQuery) return idQuery.error();
  auto ids = idQuery->rows(detail::integerColumn);
  if (!ids) return ids.error();
  std::vector<OutboxOp> out;
  for (std::int64_t id : *ids) {
    auto op = detail::loadOp(db, id);
    if (!op) return op.error();
    out.push_back(std::move(op).value());
  }
  return out;
}

bool parksOrArchives(OpState s) { return s == OpState::rejected || s == OpState::conflict || s == OpState::archived; }

constexpr const char* kReadySql =
    "SELECT o.id FROM outbox o INDEXED BY outbox_queue "
    "WHERE o.state IN ('pending', 'in_flight') AND o.held = 0 "
    "AND o.id = (SELECT MIN(h.id) FROM outbox h WHERE h.work_order_id = o.work_order_id "
    "            AND h.state IN ('pending', 'in_flight') AND h.held = 0) "
    "AND o.state = 'pending' AND o.next_attempt_at <= ?1 "
    "AND NOT EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox t ON t.id = d.depends_on "
    "                WHERE d.op_id = o.id AND t.state <> 'done') "
    "ORDER BY o.id LIMIT ?2";

// A fresh idempotency key. Made inside the transaction that records (or re-sends) the operation,
// before any byte of it can be sent: every attempt of it carries this key.
std::string newIdempotencyKey(platform::Entropy& entropy) { return "fa_" + detail::randomHex(entropy, 16); }

}  // namespace

std::string_view toString(OpState state) { return detail::nameOf(state, kStateNames); }

std::optional<OpState> parseOpState(std::string_view text) { return detail::valueNamed(text, kStateNames); }

namespace detail {

std::string makeIdempotencyKey(platform::Entropy& entropy) { return newIdempotencyKey(entropy); }

Result<OutboxOp> loadOp(Database& db, std::int64_t id) {
  auto stmt = db.query(std::string("SELECT ") + kOpColumns + " FROM outbox WHERE id = ?1", id);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", "operation " + std::to_string(id) + " is not in the outbox");
  return readOp(db, *stmt);
}

Result<void> refreshHolds(Database& db, std::int64_t opId) {
  auto below = db.query(
      "WITH RECURSIVE below(id) AS (SELECT op_id FROM outbox_deps WHERE depends_on = ?1 "
      "UNION SELECT d.op_id FROM outbox_deps d JOIN below b ON d.depends_on = b.id) "
      "SELECT id FROM below ORDER BY id",
      opId);
  if (!below) return below.error();
  auto ids = below->rows(integerColumn);
  if (!ids) return ids.error();
  // A dependency always has a smaller id than its dependent (the schema checks it), so in id
  // order every dependency is settled before the operations that wait on it.
  for (std::int64_t id : *ids) {
    if (auto r = db.run("UPDATE outbox SET held = EXISTS (SELECT 1 FROM outbox_deps d JOIN outbox t ON t.id = "
                        "d.depends_on WHERE d.op_id = ?1 AND (t.state IN ('rejected', 'conflict', 'archived') OR "
                        "t.held = 1)) WHERE id = ?1",
                        id);
        !r) {
      return r;
    }
  }
  return {};
}

Result<void> moveOp(Database& db, std::int64_t id, const OpMove& move, std::int64_t now) {
  std::string from;
  for (OpState s : move.from) from += std::string(from.empty() ? "'" : ", '") + std::string(toString(s)) + "'";
  auto stmt = db.query(
      "UPDATE outbox SET state = ?2, updated_at = ?3, attempts = attempts + ?4, "
      "next_attempt_at = COALESCE(?5, next_attempt_at), last_error = CASE WHEN ?6 THEN ?7 ELSE last_error END, "
      "result = COALESCE(?8, result), idempotency_key = COALESCE(?9, idempotency_key), "
      "base_version = COALESCE(?10, base_version), payload = COALESCE(?11, payload) "
      "WHERE id = ?1 AND state IN (" +
          from + ")",
      id, toString(move.to), now, move.countAttempt ? 1 : 0, move.nextAttemptAt,
      move.lastError.has_value() || move.clearLastError ? 1 : 0, move.lastError, move.result, move.idempotencyKey,
      move.baseVersion, move.payload);
  if (!stmt) return stmt.error();
  if (auto r = stmt->run(); !r) return r;
  if (db.changes() != 1) {
    auto op = loadOp(db, id);
    if (!op) return op.error();
    return makeError("wrong_state", "cannot " + std::string(move.verb) + " operation " + std::to_string(id) +
                                        ": it is " + std::string(toString(op->state)));
  }
  // Operations waiting on this one are held while it is parked or archived, and free again
  // when it leaves those states.
  bool holdsChange = parksOrArchives(move.to);
  for (OpState s : move.from) holdsChange = holdsChange || parksOrArchives(s);
  if (holdsChange) {
    if (auto r = refreshHolds(db, id); !r) return r;
  }
  if (move.closeConflicts) {
    return db.run(
        "UPDATE conflicts SET state = 'resolved', resolution = ?2, resolution_note = ?3, resolved_at = ?4 "
        "WHERE operation_id = ?1 AND state = 'open'",
        id, move.closeConflicts->resolution, move.closeConflicts->note, now);
  }
  return {};
}

// Sends a parked operation again: pending, due now, with a fresh idempotency key. Upstream
// recorded no effect for a rejected or conflicting request, so a new key cannot duplicate one;
// reusing the old key would replay the old refusal, or be refused for a changed body.
OpMove requeueMove(platform::Entropy& entropy, const std::optional<std::string>& baseVersion,
                   const std::optional<Json>& payload) {
  OpMove move{{OpState::rejected, OpState::conflict}, OpState::pending, "retry"};
  move.nextAttemptAt = 0;
  move.idempotencyKey = newIdempotencyKey(entropy);
  move.baseVersion = baseVersion;
  if (payload) move.payload = payload->dump();
  return move;
}

Result<void> archiveOp(Database& db, std::int64_t id, std::int64_t now, std::optional<ConflictClose> close) {
  OpMove move{{OpState::pending, OpState::rejected, OpState::conflict}, OpState::archived, "discard"};
  move.closeConflicts = std::move(close);
  if (auto r = moveOp(db, id, move, now); !r) return r;
  auto op = loadOp(db, id);
  if (!op) return op.error();
  return settleArchivedWrite(db, op->writeId);
}

}  // namespace detail

using detail::OpMove;

Result<std::vector<OutboxOp>> Outbox::readyOperations(WallTime now, int limit) {
  if (limit < 1) return makeError("invalid", "limit must be 1 or more");
  auto lock = core_.db().lock();
  // The head of each work order's queue is its oldest live (pending or in-flight) operation that
  // is not held; it is ready when it is pending, due, and all it depends on is done. Both the
  // outer scan and the head lookup use the partial index outbox_queue, which holds live
  // operations only, so the cost follows the queue, not the history.
  return loadOps(core_.db(), core_.db().query(kReadySql, toMillis(now), limit));
}

Result<std::vector<std::string>> Outbox::explainReadyOperations() {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(std::string("EXPLAIN QUERY PLAN ") + kReadySql);
  if (!stmt) return stmt.error();
  return stmt->rows([](Statement& row) { return row.text(3); });
}

Result<OutboxOp> Outbox::operation(std::int64_t id) {
  auto lock = core_.db().lock();
  return detail::loadOp(core_.db(), id);
}

Result<std::vector<OutboxOp>> Outbox::listOperations(const OutboxFilter& filter) {
  if (filter.limit < 1) return makeError("invalid", "limit must be 1 or more");
  const std::optional<std::string> state =
      filter.state ? std::optional<std::string>(toString(*filter.state)) : std::nullopt;
  auto lock = core_.db().lock();
  return loadOps(core_.db(),
                 core_.db().query("SELECT id FROM outbox WHERE id > ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL "
                                  "OR work_order_id = ?3) ORDER BY id LIMIT ?4",
                                  filter.afterId, state, filter.workOrderId, filter.limit));
}

Result<OutboxCounts> Outbox::outboxCounts() {
  auto lock = core_.db().lock();
  Database& db = core_.db();
  OutboxCounts counts;
  for (const auto& state : kStateNames) counts.byState[state.value] = 0;
  auto byState = db.query("SELECT state, COUNT(*) FROM outbox GROUP BY state");
  if (!byState) return byState.error();
  auto stateCounts = byState->rows([](Statement& row) { return std::pair{row.text(0), row.integer(1)}; });
  if (!stateCounts) return stateCounts.error();
  for (const auto& [name, count] : *stateCounts) {
    if (auto s = parseOpState(name)) counts.byState[*s] = count;
  }
  auto held = db.query("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight') AND held = 1");
  if (!held) return held.error();
  auto heldCount = held->firstRow(detail::integerColumn);
  if (!heldCount) return heldCount.error();
  counts.held = heldCount->value_or(0);
  auto oldest = db.query("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'");
  if (!oldest) return oldest.error();
  auto oldestAt = oldest->firstRow([](Statement& row) { return row.optionalInteger(0); });
  if (!oldestAt) return oldestAt.error();
  if (auto ms = oldestAt->value_or(std::nullopt)) counts.oldestPendingCreatedAt = fromMillis(*ms);
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
    RelaxedCommit(Database& d, bool full)
        : db(d), active(full && static_cast<bool>(d.exec("PRAGMA synchronous = NORMAL"))) {}
    ~RelaxedCommit() {
      if (active) (void)db.exec("PRAGMA synchronous = FULL");
    }
  } relaxed(core_.db(), core_.options.durability == Durability::full);
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  OpMove move{{OpState::pending}, OpState::in_flight, "send"};
  move.countAttempt = true;
  if (auto r = detail::moveOp(core_.db(), id, move, core_.nowMillis()); !r) return r;
  return txn->commit();
}

Result<void> Outbox::markDone(std::int64_t id, const Json& upstreamAnswer,
                              const std::optional<ServerWorkOrder>& freshCopy,
                              const std::optional<std::string>& rebaseFromVersion) {
  return core_.transact([&](Database& db, std::int64_t now) -> Result<void> {
    OpMove move{{OpState::in_flight}, OpState::done, "complete"};
    move.clearLastError = true;
    move.result = upstreamAnswer.dump();
    if (auto r = detail::moveOp(db, id, move, now); !r) return r;
    // After the move to done, so the fold of confirmed local changes counts this operation.
    if (!freshCopy || !freshCopy->doc.is_object() || detail::stringField(freshCopy->doc, "workOrderId").empty()) {
      return {};
    }
    if (auto r = detail::storeServerCopies(db, {*freshCopy}, now); !r) return r;
    if (!rebaseFromVersion || rebaseFromVersion->empty() || freshCopy->etag.empty()) return {};
    return db.run(
        "UPDATE outbox SET base_version = ?3 WHERE work_order_id = ?1 AND state = 'pending' AND base_version = ?2 "
        "AND id > ?4",
        detail::stringField(freshCopy->doc, "workOrderId"), *rebaseFromVersion, freshCopy->etag, id);
  });
}

Result<void> Outbox::markRetryLater(std::int64_t id, WallTime nextAttemptAt, const std::string& error) {
  return core_.transact([&](Database& db, std::int64_t now) {
    OpMove move{{OpState::in_flight, OpState::pending}, OpState::pending, "reschedule"};
    move.nextAttemptAt = toMillis(nextAttemptAt);
    move.lastError = error;
    return detail::moveOp(db, id, move, now);
  });
}

Result<void> Outbox::markRejected(std::int64_t id, const std::string& upstreamMessage) {
  return core_.transact([&](Database& db, std::int64_t now) {
    OpMove move{{OpState::in_flight}, OpState::rejected, "reject"};
    move.lastError = upstreamMessage;
    return detail::moveOp(db, id, move, now);
  });
}

Result<std::int64_t> Outbox::markConflict(std::int64_t id, const NewConflict& conflict) {
  return core_.transact([&](Database& db, std::int64_t now) -> Result<std::int64_t> {
    OpMove move{{OpState::in_flight}, OpState::conflict, "mark in conflict"};
    move.lastError = conflict.message;
    if (auto r = detail::moveOp(db, id, move, now); !r) return r.error();
    auto op = detail::loadOp(db, id);
    if (!op) return op.error();
    if (auto r = db.run("INSERT INTO conflicts (operation_id, work_order_id, field, base, theirs, yours, message, "
                        "state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8)",
                        id, op->workOrderId, conflict.field.empty() ? op->kind : conflict.field, conflict.base.dump(),
                        conflict.theirs.dump(), (conflict.yours.is_null() ? op->payload : conflict.yours).dump(),
                        conflict.message, now);
        !r) {
      return r.error();
    }
    return db.lastInsertId();
  });
}

Result<void> Outbox::retryParked(std::int64_t id, const std::optional<std::string>& newBaseVersion) {
  return core_.transact([&](Database& db, std::int64_t now) {
    OpMove move = detail::requeueMove(core_.entropy, newBaseVersion, std::nullopt);
    move.closeConflicts = detail::ConflictClose{"keep_mine", "retried"};
    return detail::moveOp(db, id, move, now);
  });
}

Result<void> Outbox::editParked(std::int64_t id, const Json& payload) {
  return core_.transact([&](Database& db, std::int64_t now) {
    OpMove move = detail::requeueMove(core_.entropy, std::nullopt, payload);
    move.closeConflicts = detail::ConflictClose{"edit", "edited"};
    return detail::moveOp(db, id, move, now);
  });
}

Result<void> Outbox::discard(std::int64_t id) {
  return core_.transact([&](Database& db, std::int64_t now) {
    return detail::archiveOp(db, id, now, detail::ConflictClose{"take_theirs", "discarded"});
  });
}

}  // namespace fieldagent::storage
