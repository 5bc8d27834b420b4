// The SyncState part: the puller's checkpoints and the log of recent sync runs.
#include <string>

#include "fieldagent/storage/sync_state.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

Result<std::optional<Checkpoint>> SyncState::checkpoint(const std::string& resource) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare("SELECT watermark, cursor, saved_at FROM sync_checkpoints WHERE resource = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, resource).step();
  if (!row) return row.error();
  if (!*row) return std::optional<Checkpoint>{};
  return std::optional<Checkpoint>{Checkpoint{stmt->text(0), stmt->text(1), fromMillis(stmt->integer(2))}};
}

Result<void> SyncState::saveCheckpoint(const std::string& resource, const Checkpoint& checkpoint) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(
      "INSERT INTO sync_checkpoints (resource, watermark, cursor, saved_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (resource) DO UPDATE SET watermark = excluded.watermark, cursor = excluded.cursor, "
      "saved_at = excluded.saved_at");
  if (!stmt) return stmt.error();
  return stmt->bind(1, resource)
      .bind(2, checkpoint.watermark)
      .bind(3, checkpoint.cursor)
      .bind(4, toMillis(core_.clock.now()))
      .run();
}

Result<void> SyncState::recordSyncRun(const SyncRun& run) {
  auto lock = core_.db().lock();
  auto txn = Transaction::begin(core_.db());
  if (!txn) return txn.error();
  auto stmt = core_.db().prepare("INSERT INTO sync_runs (started_at, finished_at, outcome, detail) VALUES (?1, ?2, ?3, ?4)");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, toMillis(run.startedAt))
                   .bind(2, toMillis(run.finishedAt))
                   .bind(3, run.outcome)
                   .bind(4, run.detail)
                   .run();
      !r) {
    return r;
  }
  // Only the recent past matters for "last sync time and outcome"; the log must not grow forever.
  auto trim = core_.db().prepare("DELETE FROM sync_runs WHERE id <= ?1");
  if (!trim) return trim.error();
  if (auto r = trim->bind(1, core_.db().lastInsertId() - tuning::kSyncRunsKept).run(); !r) return r;
  return txn->commit();
}

Result<std::optional<SyncRun>> SyncState::lastSyncRun() {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare("SELECT started_at, finished_at, outcome, detail FROM sync_runs ORDER BY id DESC LIMIT 1");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<SyncRun>{};
  return std::optional<SyncRun>{
      SyncRun{fromMillis(stmt->integer(0)), fromMillis(stmt->integer(1)), stmt->text(2), stmt->text(3)}};
}

}  // namespace fieldagent::storage
