// The SyncState part: the puller's checkpoints and the log of recent sync runs.
#include <string>

#include "fieldagent/storage/sync_state.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

Result<std::optional<Checkpoint>> SyncState::checkpoint(const std::string& resource) {
  auto lock = core_.db().lock();
  auto stmt =
      core_.db().query("SELECT watermark, cursor, saved_at FROM sync_checkpoints WHERE resource = ?1", resource);
  if (!stmt) return stmt.error();
  return stmt->firstRow([](Statement& row) {
    return Checkpoint{row.text(0), row.text(1), fromMillis(row.integer(2))};
  });
}

Result<void> SyncState::saveCheckpoint(const std::string& resource, const Checkpoint& checkpoint) {
  auto lock = core_.db().lock();
  return core_.db().run(
      "INSERT INTO sync_checkpoints (resource, watermark, cursor, saved_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (resource) DO UPDATE SET watermark = excluded.watermark, cursor = excluded.cursor, "
      "saved_at = excluded.saved_at",
      resource, checkpoint.watermark, checkpoint.cursor, core_.nowMillis());
}

Result<void> SyncState::recordSyncRun(const SyncRun& run) {
  return core_.transact([&](Database& db, std::int64_t) -> Result<void> {
    if (auto r = db.run("INSERT INTO sync_runs (started_at, finished_at, outcome, detail) VALUES (?1, ?2, ?3, ?4)",
                        toMillis(run.startedAt), toMillis(run.finishedAt), run.outcome, run.detail);
        !r) {
      return r;
    }
    // Only the recent past matters for "last sync time and outcome"; the log must not grow forever.
    return db.run("DELETE FROM sync_runs WHERE id <= ?1", db.lastInsertId() - tuning::kSyncRunsKept);
  });
}

Result<std::optional<SyncRun>> SyncState::lastSyncRun() {
  auto lock = core_.db().lock();
  auto stmt =
      core_.db().query("SELECT started_at, finished_at, outcome, detail FROM sync_runs ORDER BY id DESC LIMIT 1");
  if (!stmt) return stmt.error();
  return stmt->firstRow([](Statement& row) {
    return SyncRun{fromMillis(row.integer(0)), fromMillis(row.integer(1)), row.text(2), row.text(3)};
  });
}

}  // namespace fieldagent::storage
