#include "schema.hpp"

#include <string>
#include <string_view>

#include "fieldagent/storage/schema.hpp"

namespace fieldagent::storage {
namespace {

// Version 1: the first schema. Timestamps the store compares or sorts are INTEGER milliseconds
// since the epoch (UTC); documents are upstream's JSON text, kept whole. Every index costs a
// page write per captured operation (flash wear), so the outbox has only those its queries
// need: no AUTOINCREMENT (rows are never deleted, so ids are never reused anyway), no unique
// index on the random 128-bit idempotency keys, and partial indexes over the few live or
// parked rows instead of indexes over the whole history.
constexpr std::string_view kVersion1 = R"sql(
CREATE TABLE work_orders (
  work_order_id     TEXT PRIMARY KEY,
  number            TEXT,
  status            TEXT,
  customer_id       TEXT,
  sla_due_at        INTEGER,
  updated_at        INTEGER,
  doc               TEXT NOT NULL,
  server_doc        TEXT NOT NULL,
  etag              TEXT,
  server_updated_at TEXT,
  has_local         INTEGER NOT NULL DEFAULT 0,
  detached          INTEGER NOT NULL DEFAULT 0,
  cached_at         INTEGER NOT NULL
);
CREATE INDEX work_orders_status   ON work_orders (status, work_order_id);
CREATE INDEX work_orders_customer ON work_orders (customer_id, work_order_id);
CREATE INDEX work_orders_sla      ON work_orders (sla_due_at, work_order_id);
CREATE INDEX work_orders_updated  ON work_orders (updated_at, work_order_id);
CREATE INDEX work_orders_number   ON work_orders (number);

CREATE TABLE work_order_technicians (
  technician_id TEXT NOT NULL,
  work_order_id TEXT NOT NULL REFERENCES work_orders (work_order_id) ON DELETE CASCADE,
  PRIMARY KEY (technician_id, work_order_id)
) WITHOUT ROWID;
CREATE INDEX work_order_technicians_by_work_order ON work_order_technicians (work_order_id);

CREATE TABLE local_writes (
  id            INTEGER PRIMARY KEY,
  work_order_id TEXT NOT NULL,
  patch         TEXT,
  active        INTEGER NOT NULL DEFAULT 1,
  created_at    INTEGER NOT NULL
);
CREATE INDEX local_writes_active ON local_writes (work_order_id, id) WHERE active = 1;

CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  write_id        INTEGER NOT NULL REFERENCES local_writes (id),
  kind            TEXT NOT NULL,
  work_order_id   TEXT NOT NULL,
  payload         TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  base_version    TEXT,
  state           TEXT NOT NULL
                  CHECK (state IN ('pending', 'in_flight', 'done', 'conflict', 'rejected', 'archived')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  result          TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_by_write ON outbox (write_id);
CREATE INDEX outbox_live ON outbox (work_order_id, id) WHERE state IN ('pending', 'in_flight');
CREATE INDEX outbox_parked ON outbox (state, id) WHERE state IN ('in_flight', 'conflict', 'rejected');

CREATE TABLE outbox_deps (
  op_id      INTEGER NOT NULL REFERENCES outbox (id),
  depends_on INTEGER NOT NULL REFERENCES outbox (id),
  PRIMARY KEY (op_id, depends_on),
  CHECK (depends_on < op_id)
) WITHOUT ROWID;
CREATE INDEX outbox_deps_by_target ON outbox_deps (depends_on, op_id);

CREATE TABLE customers (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);
CREATE TABLE sites (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);
CREATE INDEX sites_by_customer ON sites (customer_id, id);
CREATE TABLE assets (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);
CREATE INDEX assets_by_customer ON assets (customer_id, id);
CREATE TABLE contracts (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);
CREATE INDEX contracts_by_customer ON contracts (customer_id, id);
CREATE TABLE contract_assets (
  asset_id    TEXT NOT NULL,
  contract_id TEXT NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
  PRIMARY KEY (asset_id, contract_id)
) WITHOUT ROWID;
CREATE INDEX contract_assets_by_contract ON contract_assets (contract_id);
CREATE TABLE parts (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);
CREATE TABLE technicians (
  id TEXT PRIMARY KEY, customer_id TEXT, doc TEXT NOT NULL, updated_at TEXT, cached_at INTEGER NOT NULL);

CREATE TABLE stock (
  warehouse_id TEXT NOT NULL,
  part_number  TEXT NOT NULL,
  bin          TEXT NOT NULL DEFAULT '',
  quantity     REAL NOT NULL,
  doc          TEXT NOT NULL,
  updated_at   TEXT,
  cached_at    INTEGER NOT NULL,
  PRIMARY KEY (warehouse_id, part_number, bin)
) WITHOUT ROWID;
CREATE TABLE stock_adjustments (
  id           INTEGER PRIMARY KEY,
  write_id     INTEGER NOT NULL REFERENCES local_writes (id),
  warehouse_id TEXT NOT NULL,
  part_number  TEXT NOT NULL,
  bin          TEXT NOT NULL DEFAULT '',
  delta        REAL NOT NULL,
  open         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX stock_adjustments_open ON stock_adjustments (warehouse_id, part_number, bin) WHERE open = 1;
CREATE INDEX stock_adjustments_by_write ON stock_adjustments (write_id);

CREATE TABLE sync_checkpoints (
  resource  TEXT PRIMARY KEY,
  watermark TEXT,
  cursor    TEXT,
  saved_at  INTEGER NOT NULL
);

CREATE TABLE attachments (
  id                    TEXT PRIMARY KEY,
  write_id              INTEGER NOT NULL REFERENCES local_writes (id),
  work_order_id         TEXT NOT NULL,
  kind                  TEXT NOT NULL,
  file_name             TEXT NOT NULL,
  content_type          TEXT NOT NULL,
  size_bytes            INTEGER NOT NULL,
  sha256                TEXT NOT NULL,
  state                 TEXT NOT NULL
                        CHECK (state IN ('stored', 'uploading', 'uploaded', 'confirmed', 'failed')),
  upload_offset         INTEGER NOT NULL DEFAULT 0,
  upload_token          TEXT,
  upstream_id           TEXT,
  upload_url            TEXT,
  upload_url_expires_at INTEGER,
  last_error            TEXT,
  on_device             INTEGER NOT NULL DEFAULT 1,
  created_at            INTEGER NOT NULL,
  confirmed_at          INTEGER
);
CREATE INDEX attachments_by_work_order ON attachments (work_order_id, created_at);
CREATE INDEX attachments_by_write ON attachments (write_id);

CREATE TABLE conflicts (
  id              INTEGER PRIMARY KEY,
  operation_id    INTEGER NOT NULL REFERENCES outbox (id),
  work_order_id   TEXT NOT NULL,
  field           TEXT NOT NULL,
  base            TEXT,
  theirs          TEXT,
  yours           TEXT,
  message         TEXT,
  state           TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
  resolution      TEXT,
  resolution_note TEXT,
  created_at      INTEGER NOT NULL,
  resolved_at     INTEGER
);
CREATE INDEX conflicts_by_state ON conflicts (state, id);
CREATE INDEX conflicts_by_operation ON conflicts (operation_id);
)sql";

// Version 2: operations waiting on a parked dependency are marked held, so that they leave the
// per-work-order queue instead of blocking the operations of their work order that do not
// depend on the parked one; and a log of sync runs for "last sync time and outcome".
constexpr std::string_view kVersion2 = R"sql(
ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
WITH RECURSIVE blocked(id) AS (
  SELECT d.op_id FROM outbox_deps d JOIN outbox t ON t.id = d.depends_on
   WHERE t.state IN ('rejected', 'conflict', 'archived')
  UNION
  SELECT d.op_id FROM outbox_deps d JOIN blocked b ON d.depends_on = b.id
)
UPDATE outbox SET held = 1 WHERE id IN (SELECT id FROM blocked);
DROP INDEX outbox_live;
CREATE INDEX outbox_queue ON outbox (work_order_id, id) WHERE state IN ('pending', 'in_flight') AND held = 0;

CREATE TABLE sync_runs (
  id          INTEGER PRIMARY KEY,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  outcome     TEXT NOT NULL,
  detail      TEXT
);
)sql";

constexpr std::string_view kMigrations[] = {kVersion1, kVersion2};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

Result<int> userVersion(Database& db) {
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return static_cast<int>(stmt->integer(0));
}

}  // namespace

Result<int> migrate(Database& db, int targetVersion, const std::string& where) {
  auto current = userVersion(db);
  if (!current) return current.error();
  if (*current > kSchemaVersion) {
    return makeError("schema_too_new", where + " has schema version " + std::to_string(*current) + ", newer than the " +
                                           std::to_string(kSchemaVersion) +
                                           " this agent knows; it was written by a newer agent. Run that agent, or "
                                           "move the file away to start with an empty cache.");
  }
  for (int version = *current + 1; version <= targetVersion; ++version) {
    auto txn = Transaction::begin(db);
    if (!txn) return txn.error();
    if (auto r = db.exec(kMigrations[version - 1]); !r) {
      return makeError(r.error().code, "migrating " + where + " to schema version " + std::to_string(version) + ": " +
                                           r.error().message);
    }
    if (auto r = db.exec("PRAGMA user_version = " + std::to_string(version)); !r) return r.error();
    if (auto r = txn->commit(); !r) return r.error();
  }
  return userVersion(db);
}

Result<int> migrateDatabaseFile(const std::filesystem::path& path, int targetVersion) {
  if (targetVersion < 1 || targetVersion > kSchemaVersion) {
    return makeError("invalid", "schema version " + std::to_string(targetVersion) + " does not exist");
  }
  auto db = Database::open(path);
  if (!db) return db.error();
  if (auto r = (*db)->exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON"); !r) return r.error();
  return migrate(**db, targetVersion, path.string());
}

}  // namespace fieldagent::storage
