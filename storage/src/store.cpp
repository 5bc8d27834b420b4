#include "fieldagent/storage/store.hpp"

#include <set>
#include <string>
#include <utility>
#include <variant>

#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/staged_file.hpp"
#include "fieldagent/storage/schema.hpp"
#include "schema.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

constexpr const char* kDatabaseFile = "fieldagent.db";
constexpr const char* kAttachmentsFolder = "attachments";

struct ReferenceTable {
  const char* table;
  const char* keyField;
  const char* parentField;  // nullptr where the kind has no customer
};

ReferenceTable referenceTable(ReferenceKind kind) {
  switch (kind) {
    case ReferenceKind::customer:
      return {"customers", "customerId", nullptr};
    case ReferenceKind::site:
      return {"sites", "siteId", "customerId"};
    case ReferenceKind::asset:
      return {"assets", "assetId", "customerId"};
    case ReferenceKind::contract:
      return {"contracts", "contractId", "customerId"};
    case ReferenceKind::part:
      return {"parts", "partNumber", nullptr};
    case ReferenceKind::technician:
      return {"technicians", "technicianId", nullptr};
  }
  return {"customers", "customerId", nullptr};
}

Result<bool> workOrderExists(Database& db, const std::string& id) {
  auto stmt = db.prepare("SELECT 1 FROM work_orders WHERE work_order_id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  return stmt->step();
}

Result<WorkOrder> readWorkOrder(Statement& row) {
  WorkOrder wo;
  wo.workOrderId = row.text(0);
  auto doc = detail::parseStored(row.text(1), "work order " + wo.workOrderId);
  if (!doc) return doc.error();
  wo.doc = std::move(doc).value();
  auto server = detail::parseStored(row.text(2), "server copy of work order " + wo.workOrderId);
  if (!server) return server.error();
  wo.serverDoc = std::move(server).value();
  wo.etag = row.text(3);
  wo.serverUpdatedAt = row.text(4);
  wo.hasLocalChanges = row.integer(5) != 0;
  wo.detached = row.integer(6) != 0;
  return wo;
}

constexpr const char* kWorkOrderColumns =
    "work_order_id, doc, server_doc, etag, server_updated_at, has_local, detached";
// A list's columns: the view's text and its bookkeeping, no server copy.
constexpr const char* kWorkOrderListColumns = "work_order_id, doc, etag, server_updated_at, has_local, detached";

Result<void> validatePaging(int page, int pageSize) {
  if (page < 1) return makeError("invalid", "page must be 1 or more, not " + std::to_string(page));
  if (pageSize < 1 || pageSize > tuning::kMaxPageSize) {
    return makeError("invalid", "pageSize must be between 1 and " + std::to_string(tuning::kMaxPageSize) + ", not " +
                                    std::to_string(pageSize));
  }
  return {};
}

}  // namespace

std::string_view toString(ReferenceKind kind) {
  switch (kind) {
    case ReferenceKind::customer:
      return "customer";
    case ReferenceKind::site:
      return "site";
    case ReferenceKind::asset:
      return "asset";
    case ReferenceKind::contract:
      return "contract";
    case ReferenceKind::part:
      return "part";
    case ReferenceKind::technician:
      return "technician";
  }
  return "unknown";
}

// ---- opening ---------------------------------------------------------------------------------

Store::Store(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy, std::string dataKey,
             std::unique_ptr<Database> db)
    : options_(std::move(options)),
      clock_(clock),
      entropy_(entropy),
      dataKey_(std::move(dataKey)),
      db_(std::move(db)),
      quota_(std::make_shared<QuotaLedger>()) {
  quota_->limit = options_.attachmentQuotaBytes;
}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy,
                                           platform::KeyStore& keys) {
  if (options.dataDir.empty()) return makeError("invalid", "the store needs a data folder");
  if (auto r = platform::fs::ensureDir(options.dataDir, 0700); !r) return r.error();
  if (auto r = platform::fs::ensureDir(options.dataDir / kAttachmentsFolder, 0700); !r) return r.error();
  auto key = keys.dataKey();
  if (!key) return key.error();

  const auto path = options.dataDir / kDatabaseFile;
  auto db = Database::open(path);
  if (!db) return db.error();
  {
    // The first statement that reads the file: a file that is not a database fails here.
    auto mode = (*db)->prepare("PRAGMA journal_mode = WAL");
    if (!mode) return makeError(mode.error().code, path.string() + ": " + mode.error().message);
    auto row = mode->step();
    if (!row) return makeError(row.error().code, path.string() + ": " + row.error().message);
    if (!*row || mode->text(0) != "wal") {
      return makeError("io", path.string() + ": the file system refused WAL mode (" + mode->text(0) + ")");
    }
  }
  const std::string pragmas =
      std::string("PRAGMA synchronous = ") + (options.durability == Durability::full ? "FULL" : "NORMAL") +
      "; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = " + std::to_string(tuning::kWalAutocheckpointPages) +
      "; PRAGMA cache_size = " + std::to_string(-tuning::kPageCacheKiB) + "; PRAGMA trusted_schema = OFF";
  if (auto r = (*db)->exec(pragmas); !r) return makeError(r.error().code, path.string() + ": " + r.error().message);
  auto version = migrate(**db, kSchemaVersion, path.string());
  if (!version) return version.error();

  std::unique_ptr<Store> store(new Store(std::move(options), clock, entropy, std::move(key).value(), std::move(*db)));
  Database& d = *store->db_;
  {
    // An operation in flight when the agent died may or may not have reached upstream; it goes
    // again with the same idempotency key, so upstream applies it at most once.
    auto txn = Transaction::begin(d);
    if (!txn) return txn.error();
    auto requeue = d.prepare(
        "UPDATE outbox SET state = 'pending', updated_at = ?1 "
        "WHERE state IN ('in_flight', 'conflict', 'rejected') AND state = 'in_flight'");  // via outbox_parked
    if (!requeue) return requeue.error();
    if (auto r = requeue->bind(1, toMillis(clock.now())).run(); !r) return r.error();
    if (auto r = txn->commit(); !r) return r.error();
  }

  // Attachment files that no committed write recorded (a crash between writing the file and
  // recording it, or a capture abandoned half way) are removed; recorded ones are counted.
  std::set<std::string> recorded;
  {
    auto rows = d.prepare("SELECT id, size_bytes FROM attachments WHERE on_device = 1");
    if (!rows) return rows.error();
    while (true) {
      auto more = rows->step();
      if (!more) return more.error();
      if (!*more) break;
      recorded.insert(rows->text(0));
      store->quota_->recorded += static_cast<std::uint64_t>(rows->integer(1));
    }
  }
  const auto folder = store->attachmentsDir();
  auto names = platform::fs::listFiles(folder);
  if (!names) return names.error();
  for (const auto& name : *names) {
    const auto dot = name.find('.');
    const bool keep = dot != std::string::npos && name.substr(dot) == ".att" && recorded.count(name.substr(0, dot));
    if (!keep) {
      if (auto r = platform::fs::removeFile(folder / name); !r) return r.error();
    }
  }
  return store;
}

int Store::schemaVersion() const { return kSchemaVersion; }
std::filesystem::path Store::databasePath() const { return options_.dataDir / kDatabaseFile; }
std::filesystem::path Store::attachmentsDir() const { return options_.dataDir / kAttachmentsFolder; }

// ---- work orders ---------------------------------------------------------------------------

namespace detail {

Result<void> refreshWorkOrderView(Database& db, const std::string& workOrderId, const ServerCopyInHand* inHand) {
  bool hasLocal = false;
  std::vector<Json> patches;
  {
    auto stmt = db.prepare("SELECT id, patch FROM local_writes WHERE work_order_id = ?1 AND active = 1 ORDER BY id");
    if (!stmt) return stmt.error();
    stmt->bind(1, workOrderId);
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      hasLocal = true;
      if (stmt->isNull(1)) continue;
      auto patch = parseStored(stmt->text(1), "local change " + std::to_string(stmt->integer(0)));
      if (!patch) return patch.error();
      patches.push_back(std::move(patch).value());
    }
  }
  // With the server copy just stored in hand and nothing on top of it, the view is that copy
  // and its text: not read back, parsed and written out again (most of a prime's work orders).
  Json built;
  const Json* viewOf = nullptr;
  std::string viewText;
  if (inHand != nullptr && patches.empty()) {
    viewOf = &inHand->doc;
    viewText = inHand->text;
  } else {
    if (inHand != nullptr) {
      built = inHand->doc;
    } else {
      auto stmt = db.prepare("SELECT server_doc FROM work_orders WHERE work_order_id = ?1");
      if (!stmt) return stmt.error();
      auto row = stmt->bind(1, workOrderId).step();
      if (!row) return row.error();
      if (!*row) return {};  // released; nothing to show
      auto doc = parseStored(stmt->text(0), "server copy of work order " + workOrderId);
      if (!doc) return doc.error();
      built = std::move(doc).value();
    }
    for (const auto& patch : patches) built.merge_patch(patch);
    viewOf = &built;
    viewText = built.dump();
  }
  const Json& view = *viewOf;
  const auto text = [&](const char* field) -> std::optional<std::string> {
    auto it = view.find(field);
    if (it == view.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  // Only what changed is written: an unchanged indexed column would still dirty its index page.
  using Value = std::variant<std::monostate, std::string, std::int64_t>;
  const auto asValue = [](const auto& optional) -> Value {
    if (!optional) return std::monostate{};
    return *optional;
  };
  const std::pair<const char*, Value> wanted[] = {
      {"doc", std::move(viewText)},
      {"number", asValue(text("number"))},
      {"status", asValue(text("status"))},
      {"customer_id", asValue(text("customerId"))},
      {"sla_due_at", asValue(isoFieldMillis(view, "slaDueAt"))},
      {"updated_at", asValue(isoFieldMillis(view, "updatedAt"))},
      {"has_local", Value{std::int64_t{hasLocal ? 1 : 0}}},
  };
  std::vector<const std::pair<const char*, Value>*> changed;
  {
    auto current = db.prepare(
        "SELECT doc, number, status, customer_id, sla_due_at, updated_at, has_local FROM work_orders "
        "WHERE work_order_id = ?1");
    if (!current) return current.error();
    auto row = current->bind(1, workOrderId).step();
    if (!row) return row.error();
    for (int i = 0; i < 7; ++i) {
      Value stored;
      if (current->isNull(i)) {
        stored = std::monostate{};
      } else if (std::holds_alternative<std::string>(wanted[i].second)) {
        stored = current->text(i);
      } else {
        stored = current->integer(i);
      }
      if (!(stored == wanted[i].second)) changed.push_back(&wanted[i]);
    }
  }
  if (!changed.empty()) {
    std::string sql = "UPDATE work_orders SET ";
    for (std::size_t i = 0; i < changed.size(); ++i) {
      sql += (i ? ", " : "") + std::string(changed[i]->first) + " = ?" + std::to_string(i + 2);
    }
    sql += " WHERE work_order_id = ?1";
    auto update = db.prepare(sql);
    if (!update) return update.error();
    update->bind(1, workOrderId);
    for (std::size_t i = 0; i < changed.size(); ++i) {
      const int index = static_cast<int>(i + 2);
      const Value& v = changed[i]->second;
      if (const auto* t = std::get_if<std::string>(&v)) {
        update->bind(index, *t);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        update->bind(index, *n);
      } else {
        update->bindNull(index);
      }
    }
    if (auto r = update->run(); !r) return r;
  }

  std::set<std::string> technicians;
  const auto techs = view.find("assignedTechnicianIds");
  if (techs != view.end() && techs->is_array()) {
    for (const auto& tech : *techs) {
      if (tech.is_string()) technicians.insert(tech.get<std::string>());
    }
  }
  std::set<std::string> storedTechnicians;
  {
    auto current = db.prepare("SELECT technician_id FROM work_order_technicians WHERE work_order_id = ?1");
    if (!current) return current.error();
    current->bind(1, workOrderId);
    while (true) {
      auto row = current->step();
      if (!row) return row.error();
      if (!*row) break;
      storedTechnicians.insert(current->text(0));
    }
  }
  if (technicians == storedTechnicians) return {};
  auto clear = db.prepare("DELETE FROM work_order_technicians WHERE work_order_id = ?1");
  if (!clear) return clear.error();
  if (auto r = clear->bind(1, workOrderId).run(); !r) return r;
  auto insert = db.prepare("INSERT INTO work_order_technicians (technician_id, work_order_id) VALUES (?1, ?2)");
  if (!insert) return insert.error();
  for (const auto& tech : technicians) {
    if (auto r = insert->bind(1, tech).bind(2, workOrderId).run(); !r) return r;
  }
  return {};
}

}  // namespace detail

Result<void> Store::upsertWorkOrder(const ServerWorkOrder& workOrder) { return upsertWorkOrders({workOrder}); }

Result<void> Store::upsertWorkOrders(const std::vector<ServerWorkOrder>& workOrders) {
  for (std::size_t i = 0; i < workOrders.size(); ++i) {
    const auto& doc = workOrders[i].doc;
    if (!doc.is_object() || detail::stringField(doc, "workOrderId").empty()) {
      return makeError("invalid", "work order " + std::to_string(i + 1) + " of " + std::to_string(workOrders.size()) +
                                      " has no string workOrderId; nothing of the batch was stored");
    }
  }
  std::lock_guard lock(mutex_);
  auto txn = Transaction::begin(*db_);
  if (!txn) return txn.error();
  if (auto r = detail::storeServerCopies(*db_, workOrders, toMillis(clock_.now())); !r) return r;
  return txn->commit();
}

Result<void> detail::storeServerCopies(Database& db, const std::vector<ServerWorkOrder>& workOrders,
                                       std::int64_t now) {
  for (const auto& wo : workOrders) {
    const std::string id = detail::stringField(wo.doc, "workOrderId");
    const std::string updatedAt = detail::stringField(wo.doc, "updatedAt");
    {
      // A copy older than the one held (a page read before a newer answer was stored) must not
      // roll the cache back.
      auto held = db.prepare("SELECT server_updated_at FROM work_orders WHERE work_order_id = ?1");
      if (!held) return held.error();
      auto row = held->bind(1, id).step();
      if (!row) return row.error();
      if (*row) {
        WallTime mine, theirs;
        if (platform::parseIso8601(held->text(0), mine) && platform::parseIso8601(updatedAt, theirs) && theirs < mine) {
          continue;
        }
      }
    }
    auto upsert = db.prepare(
        "INSERT INTO work_orders (work_order_id, doc, server_doc, etag, server_updated_at, cached_at) "
        "VALUES (?1, ?2, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (work_order_id) DO UPDATE SET server_doc = excluded.server_doc, etag = excluded.etag, "
        "server_updated_at = excluded.server_updated_at, cached_at = excluded.cached_at, detached = 0");
    if (!upsert) return upsert.error();
    const std::string text = wo.doc.dump();
    upsert->bind(1, id).bind(2, text).bind(3, wo.etag).bind(4, updatedAt).bind(5, now);
    if (auto r = upsert->run(); !r) return r;
    // Local changes whose operations upstream has all confirmed are in this fresh copy now.
    auto fold = db.prepare(
        "UPDATE local_writes SET active = 0 WHERE work_order_id = ?1 AND active = 1 AND NOT EXISTS "
        "(SELECT 1 FROM outbox o WHERE o.write_id = local_writes.id AND o.state NOT IN ('done', 'archived'))");
    if (!fold) return fold.error();
    if (auto r = fold->bind(1, id).run(); !r) return r;
    const ServerCopyInHand inHand{wo.doc, text};
    if (auto r = detail::refreshWorkOrderView(db, id, &inHand); !r) return r;
  }
  return {};
}

Result<WorkOrder> Store::workOrder(const std::string& workOrderId) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT ") + kWorkOrderColumns + " FROM work_orders WHERE work_order_id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, workOrderId).step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", "work order " + workOrderId + " is not in the offline cache");
  return readWorkOrder(*stmt);
}

Result<std::optional<std::string>> Store::serverUpdatedAt(const std::string& workOrderId) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT server_updated_at FROM work_orders WHERE work_order_id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, workOrderId).step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>{stmt->text(0)};
}

Result<Page<WorkOrder>> Store::listWorkOrders(const WorkOrderQuery& query) {
  auto rows = listWorkOrderRows(query);
  if (!rows) return rows.error();
  Page<WorkOrder> page;
  page.page = rows->page;
  page.pageSize = rows->pageSize;
  page.total = rows->total;
  for (auto& row : rows->items) {
    auto doc = detail::parseStored(row.docText, "work order " + row.workOrderId);
    if (!doc) return doc.error();
    WorkOrder wo;
    wo.workOrderId = std::move(row.workOrderId);
    wo.doc = std::move(doc).value();
    wo.etag = std::move(row.etag);
    wo.serverUpdatedAt = std::move(row.serverUpdatedAt);
    wo.hasLocalChanges = row.hasLocalChanges;
    wo.detached = row.detached;
    page.items.push_back(std::move(wo));
  }
  return page;
}

Result<Page<WorkOrderRow>> Store::listWorkOrderRows(const WorkOrderQuery& query) {
  if (auto r = validatePaging(query.page, query.pageSize); !r) return r.error();
  std::string where = " WHERE 1 = 1";
  int next = 1;
  struct Param {
    int index;
    std::variant<std::string, std::int64_t> value;
  };
  std::vector<Param> params;
  const auto addText = [&](const char* clause, const std::optional<std::string>& value) {
    if (!value) return;
    where += clause;
    where += std::to_string(next);
    params.push_back({next++, *value});
  };
  const auto addTime = [&](const char* clause, const std::optional<WallTime>& value) {
    if (!value) return;
    where += clause;
    where += std::to_string(next);
    params.push_back({next++, toMillis(*value)});
  };
  addText(" AND customer_id = ?", query.customerId);
  addText(" AND status = ?", query.status);
  if (query.technicianId) {
    where += " AND work_order_id IN (SELECT work_order_id FROM work_order_technicians WHERE technician_id = ?" +
             std::to_string(next) + ")";
    params.push_back({next++, *query.technicianId});
  }
  addTime(" AND sla_due_at >= ?", query.slaDueFrom);
  addTime(" AND sla_due_at <= ?", query.slaDueTo);
  addTime(" AND updated_at >= ?", query.updatedFrom);
  addTime(" AND updated_at <= ?", query.updatedTo);
  const char* order = query.sort == WorkOrderSort::updatedAt ? " ORDER BY updated_at, work_order_id"
                      : query.sort == WorkOrderSort::slaDueAt
                          ? " ORDER BY sla_due_at IS NULL, sla_due_at, work_order_id"
                          : " ORDER BY work_order_id";
  const auto bindAll = [&](Statement& stmt) {
    for (const auto& p : params) {
      if (const auto* s = std::get_if<std::string>(&p.value)) {
        stmt.bind(p.index, *s);
      } else {
        stmt.bind(p.index, std::get<std::int64_t>(p.value));
      }
    }
  };

  std::lock_guard lock(mutex_);
  Page<WorkOrderRow> page;
  page.page = query.page;
  page.pageSize = query.pageSize;
  {
    auto count = db_->prepare("SELECT COUNT(*) FROM work_orders" + where);
    if (!count) return count.error();
    bindAll(*count);
    auto row = count->step();
    if (!row) return row.error();
    page.total = count->integer(0);
  }
  auto stmt = db_->prepare(std::string("SELECT ") + kWorkOrderListColumns + " FROM work_orders" + where + order +
                           " LIMIT ?" + std::to_string(next) + " OFFSET ?" + std::to_string(next + 1));
  if (!stmt) return stmt.error();
  bindAll(*stmt);
  stmt->bind(next, query.pageSize)
      .bind(next + 1, static_cast<std::int64_t>(query.page - 1) * static_cast<std::int64_t>(query.pageSize));
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    WorkOrderRow wo;
    wo.workOrderId = stmt->text(0);
    wo.docText = stmt->text(1);
    wo.etag = stmt->text(2);
    wo.serverUpdatedAt = stmt->text(3);
    wo.hasLocalChanges = stmt->integer(4) != 0;
    wo.detached = stmt->integer(5) != 0;
    page.items.push_back(std::move(wo));
  }
  return page;
}

Result<std::vector<std::string>> Store::workOrderIds() {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT work_order_id FROM work_orders ORDER BY work_order_id");
  if (!stmt) return stmt.error();
  std::vector<std::string> ids;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    ids.push_back(stmt->text(0));
  }
  return ids;
}

Result<ReleaseOutcome> Store::releaseWorkOrder(const std::string& workOrderId) {
  std::lock_guard lock(mutex_);
  Database& db = *db_;
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  auto exists = workOrderExists(db, workOrderId);
  if (!exists) return exists.error();
  if (!*exists) return ReleaseOutcome::notCached;
  auto live = db.prepare("SELECT 1 FROM outbox WHERE work_order_id = ?1 AND state NOT IN ('done', 'archived') LIMIT 1");
  if (!live) return live.error();
  auto row = live->bind(1, workOrderId).step();
  if (!row) return row.error();
  ReleaseOutcome outcome;
  if (*row) {
    auto flag = db.prepare("UPDATE work_orders SET detached = 1 WHERE work_order_id = ?1");
    if (!flag) return flag.error();
    if (auto r = flag->bind(1, workOrderId).run(); !r) return r.error();
    outcome = ReleaseOutcome::keptForLocalWork;
  } else {
    auto drop = db.prepare("DELETE FROM work_orders WHERE work_order_id = ?1");
    if (!drop) return drop.error();
    if (auto r = drop->bind(1, workOrderId).run(); !r) return r.error();
    // Its finished local changes were for this copy only; a later copy starts clean.
    auto fold = db.prepare("UPDATE local_writes SET active = 0 WHERE work_order_id = ?1 AND active = 1");
    if (!fold) return fold.error();
    if (auto r = fold->bind(1, workOrderId).run(); !r) return r.error();
    outcome = ReleaseOutcome::removed;
  }
  if (auto r = txn->commit(); !r) return r.error();
  return outcome;
}

// ---- the local write -------------------------------------------------------------------

Result<LocalWriteResult> Store::applyLocalWrite(const LocalWrite& write) {
  if (write.workOrderId.empty()) return makeError("invalid", "a local write needs its work order");
  if (write.operations.empty()) {
    return makeError("invalid", "a local write on " + write.workOrderId +
                                    " has no outbox operation; every change must reach upstream");
  }
  if (write.workOrderPatch && !write.workOrderPatch->is_object()) {
    return makeError("invalid", "the change to work order " + write.workOrderId + " must be a JSON object");
  }
  for (std::size_t i = 0; i < write.operations.size(); ++i) {
    const auto& op = write.operations[i];
    if (op.kind.empty()) return makeError("invalid", "operation " + std::to_string(i + 1) + " has no kind");
    for (std::size_t dep : op.dependsOnInWrite) {
      if (dep >= i) {
        return makeError("invalid", "operation " + std::to_string(i + 1) +
                                        " of the write may only depend on earlier "
                                        "operations of it");
      }
    }
  }
  for (const auto& adj : write.stock) {
    if (adj.warehouseId.empty() || adj.partNumber.empty()) {
      return makeError("invalid", "a stock adjustment needs its warehouseId and partNumber");
    }
  }

  std::lock_guard lock(mutex_);
  for (const auto& att : write.attachments) {
    std::lock_guard quotaLock(quota_->mutex);
    if (!quota_->unrecorded.count(att.id)) {
      return makeError("invalid", "attachment " + att.id + " was not written by this store or is already recorded");
    }
  }
  Database& db = *db_;
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  auto exists = workOrderExists(db, write.workOrderId);
  if (!exists) return exists.error();
  if (!*exists) return makeError("not_found", "work order " + write.workOrderId + " is not in the offline cache");

  const std::int64_t now = toMillis(clock_.now());
  LocalWriteResult result;
  {
    auto insert = db.prepare("INSERT INTO local_writes (work_order_id, patch, created_at) VALUES (?1, ?2, ?3)");
    if (!insert) return insert.error();
    insert->bind(1, write.workOrderId).bind(3, now);
    if (write.workOrderPatch) {
      insert->bind(2, write.workOrderPatch->dump());
    } else {
      insert->bindNull(2);
    }
    if (auto r = insert->run(); !r) return r.error();
    result.writeId = db.lastInsertId();
  }

  for (std::size_t i = 0; i < write.operations.size(); ++i) {
    const auto& op = write.operations[i];
    std::vector<std::int64_t> deps = op.dependsOn;
    for (std::size_t d : op.dependsOnInWrite) deps.push_back(result.operations[d].id);
    bool held = false;
    for (std::int64_t dep : deps) {
      auto check = db.prepare("SELECT state IN ('rejected', 'conflict', 'archived') OR held FROM outbox WHERE id = ?1");
      if (!check) return check.error();
      auto row = check->bind(1, dep).step();
      if (!row) return row.error();
      if (!*row) {
        return makeError("invalid", "operation " + std::to_string(i + 1) + " depends on operation " +
                                        std::to_string(dep) + ", which does not exist");
      }
      held = held || check->integer(0) != 0;
    }
    RecordedOperation recorded;
    // The key is made here, inside the transaction that records the operation, before any byte
    // of it can be sent: every attempt of this operation will carry it.
    recorded.idempotencyKey = "fa_" + detail::randomHex(entropy_, 16);
    auto insert = db.prepare(
        "INSERT INTO outbox (write_id, kind, work_order_id, payload, idempotency_key, base_version, state, held, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8)");
    if (!insert) return insert.error();
    insert->bind(1, result.writeId)
        .bind(2, op.kind)
        .bind(3, write.workOrderId)
        .bind(4, op.payload.dump())
        .bind(5, recorded.idempotencyKey)
        .bind(6, op.baseVersion)
        .bind(7, held ? 1 : 0)
        .bind(8, now);
    if (auto r = insert->run(); !r) return r.error();
    recorded.id = db.lastInsertId();
    for (std::int64_t dep : deps) {
      auto link = db.prepare("INSERT OR IGNORE INTO outbox_deps (op_id, depends_on) VALUES (?1, ?2)");
      if (!link) return link.error();
      if (auto r = link->bind(1, recorded.id).bind(2, dep).run(); !r) return r.error();
    }
    result.operations.push_back(std::move(recorded));
  }

  for (const auto& adj : write.stock) {
    auto line = db.prepare(
        "INSERT OR IGNORE INTO stock (warehouse_id, part_number, bin, quantity, doc, cached_at) "
        "VALUES (?1, ?2, ?3, 0, ?4, ?5)");
    if (!line) return line.error();
    const Json placeholder = {
        {"warehouseId", adj.warehouseId}, {"partNumber", adj.partNumber}, {"bin", adj.bin}, {"quantityOnHand", 0}};
    line->bind(1, adj.warehouseId).bind(2, adj.partNumber).bind(3, adj.bin).bind(4, placeholder.dump()).bind(5, now);
    if (auto r = line->run(); !r) return r.error();
    auto insert = db.prepare(
        "INSERT INTO stock_adjustments (write_id, warehouse_id, part_number, bin, delta) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert) return insert.error();
    insert->bind(1, result.writeId)
        .bind(2, adj.warehouseId)
        .bind(3, adj.partNumber)
        .bind(4, adj.bin)
        .bind(5, adj.delta);
    if (auto r = insert->run(); !r) return r.error();
  }

  for (const auto& att : write.attachments) {
    auto insert = db.prepare(
        "INSERT INTO attachments (id, write_id, work_order_id, kind, file_name, content_type, size_bytes, sha256, "
        "state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'stored', ?9)");
    if (!insert) return insert.error();
    insert->bind(1, att.id)
        .bind(2, result.writeId)
        .bind(3, write.workOrderId)
        .bind(4, att.spec.kind)
        .bind(5, att.spec.fileName)
        .bind(6, att.spec.contentType)
        .bind(7, static_cast<std::int64_t>(att.sizeBytes))
        .bind(8, att.sha256)
        .bind(9, now);
    if (auto r = insert->run(); !r) return r.error();
  }

  if (auto r = detail::refreshWorkOrderView(db, write.workOrderId); !r) return r.error();
  if (auto r = txn->commit(); !r) return r.error();

  std::lock_guard quotaLock(quota_->mutex);
  for (const auto& att : write.attachments) {
    quota_->unrecorded.erase(att.id);
    quota_->recorded += att.sizeBytes;
  }
  return result;
}

// ---- reference data --------------------------------------------------------------------

Result<void> Store::upsertReference(ReferenceKind kind, const std::vector<Json>& docs) {
  const ReferenceTable table = referenceTable(kind);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].is_object() || detail::stringField(docs[i], table.keyField).empty()) {
      return makeError("invalid", std::string(toString(kind)) + " " + std::to_string(i + 1) + " of " +
                                      std::to_string(docs.size()) + " has no string " + table.keyField +
                                      "; nothing of the batch was stored");
    }
  }
  std::lock_guard lock(mutex_);
  Database& db = *db_;
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(clock_.now());
  for (const auto& doc : docs) {
    const std::string key = detail::stringField(doc, table.keyField);
    auto upsert = db.prepare(std::string("INSERT INTO ") + table.table +
                             " (id, customer_id, doc, updated_at, cached_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                             "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, doc = excluded.doc, "
                             "updated_at = excluded.updated_at, cached_at = excluded.cached_at");
    if (!upsert) return upsert.error();
    std::optional<std::string> parent;
    if (table.parentField != nullptr && !detail::stringField(doc, table.parentField).empty()) {
      parent = detail::stringField(doc, table.parentField);
    }
    upsert->bind(1, key)
        .bind(2, parent)
        .bind(3, doc.dump())
        .bind(4, detail::stringField(doc, "updatedAt"))
        .bind(5, now);
    if (auto r = upsert->run(); !r) return r;
    if (kind == ReferenceKind::contract) {
      auto clear = db.prepare("DELETE FROM contract_assets WHERE contract_id = ?1");
      if (!clear) return clear.error();
      if (auto r = clear->bind(1, key).run(); !r) return r;
      const auto assets = doc.find("assetIds");
      if (assets != doc.end() && assets->is_array()) {
        auto link = db.prepare("INSERT OR IGNORE INTO contract_assets (asset_id, contract_id) VALUES (?1, ?2)");
        if (!link) return link.error();
        for (const auto& asset : *assets) {
          if (!asset.is_string()) continue;
          if (auto r = link->bind(1, asset.get<std::string>()).bind(2, key).run(); !r) return r;
        }
      }
    }
  }
  return txn->commit();
}

Result<Json> Store::reference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT doc FROM ") + table.table + " WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, key).step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", std::string(toString(kind)) + " " + key + " is not in the offline cache");
  return detail::parseStored(stmt->text(0), std::string(toString(kind)) + " " + key);
}

Result<bool> Store::hasReference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT 1 FROM ") + table.table + " WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, key).step();
  if (!row) return row.error();
  return *row;
}

Result<Page<Json>> Store::listReference(ReferenceKind kind, const std::optional<std::string>& parent, int page,
                                        int pageSize) {
  if (auto r = validatePaging(page, pageSize); !r) return r.error();
  const ReferenceTable table = referenceTable(kind);
  const std::string where = parent ? " WHERE customer_id = ?1" : "";
  std::lock_guard lock(mutex_);
  Page<Json> out;
  out.page = page;
  out.pageSize = pageSize;
  {
    auto count = db_->prepare(std::string("SELECT COUNT(*) FROM ") + table.table + where);
    if (!count) return count.error();
    if (parent) count->bind(1, *parent);
    auto row = count->step();
    if (!row) return row.error();
    out.total = count->integer(0);
  }
  auto stmt =
      db_->prepare(std::string("SELECT id, doc FROM ") + table.table + where + " ORDER BY id LIMIT ?2 OFFSET ?3");
  if (!stmt) return stmt.error();
  if (parent) stmt->bind(1, *parent);
  stmt->bind(2, pageSize).bind(3, static_cast<std::int64_t>(page - 1) * pageSize);
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    auto doc = detail::parseStored(stmt->text(1), std::string(toString(kind)) + " " + stmt->text(0));
    if (!doc) return doc.error();
    out.items.push_back(std::move(doc).value());
  }
  return out;
}

Result<std::vector<Json>> Store::contractsForAsset(const std::string& assetId) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "SELECT c.id, c.doc FROM contract_assets a JOIN contracts c ON c.id = a.contract_id WHERE a.asset_id = ?1 "
      "ORDER BY c.id");
  if (!stmt) return stmt.error();
  stmt->bind(1, assetId);
  std::vector<Json> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    auto doc = detail::parseStored(stmt->text(1), "contract " + stmt->text(0));
    if (!doc) return doc.error();
    out.push_back(std::move(doc).value());
  }
  return out;
}

Result<void> Store::upsertStock(const std::vector<Json>& stockDocs) {
  for (std::size_t i = 0; i < stockDocs.size(); ++i) {
    const auto& doc = stockDocs[i];
    const auto qty = doc.is_object() ? doc.find("quantityOnHand") : doc.end();
    if (!doc.is_object() || detail::stringField(doc, "warehouseId").empty() ||
        detail::stringField(doc, "partNumber").empty() || qty == doc.end() || !qty->is_number()) {
      return makeError("invalid", "stock line " + std::to_string(i + 1) + " of " + std::to_string(stockDocs.size()) +
                                      " needs string warehouseId and partNumber and a numeric quantityOnHand; "
                                      "nothing of the batch was stored");
    }
  }
  std::lock_guard lock(mutex_);
  Database& db = *db_;
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(clock_.now());
  for (const auto& doc : stockDocs) {
    const std::string warehouse = detail::stringField(doc, "warehouseId");
    const std::string part = detail::stringField(doc, "partNumber");
    const std::string bin = detail::stringField(doc, "bin");
    auto upsert = db.prepare(
        "INSERT INTO stock (warehouse_id, part_number, bin, quantity, doc, updated_at, cached_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (warehouse_id, part_number, bin) DO UPDATE SET "
        "quantity = excluded.quantity, doc = excluded.doc, updated_at = excluded.updated_at, "
        "cached_at = excluded.cached_at");
    if (!upsert) return upsert.error();
    upsert->bind(1, warehouse)
        .bind(2, part)
        .bind(3, bin)
        .bind(4, doc["quantityOnHand"].get<double>())
        .bind(5, doc.dump())
        .bind(6, detail::stringField(doc, "updatedAt"))
        .bind(7, now);
    if (auto r = upsert->run(); !r) return r;
    // Parts whose consumption upstream has confirmed are in its figure now.
    auto absorb = db.prepare(
        "UPDATE stock_adjustments SET open = 0 WHERE warehouse_id = ?1 AND part_number = ?2 AND bin = ?3 AND open = 1 "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.write_id = stock_adjustments.write_id "
        "AND o.state NOT IN ('done', 'archived'))");
    if (!absorb) return absorb.error();
    if (auto r = absorb->bind(1, warehouse).bind(2, part).bind(3, bin).run(); !r) return r;
  }
  return txn->commit();
}

Result<std::vector<StockLine>> Store::stock(const std::string& warehouseId,
                                            const std::optional<std::string>& partNumber) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "SELECT s.warehouse_id, s.part_number, s.bin, s.quantity, s.doc, "
      "COALESCE((SELECT SUM(a.delta) FROM stock_adjustments a WHERE a.open = 1 AND a.warehouse_id = s.warehouse_id "
      "AND a.part_number = s.part_number AND a.bin = s.bin), 0) "
      "FROM stock s WHERE s.warehouse_id = ?1 AND (?2 IS NULL OR s.part_number = ?2) ORDER BY s.part_number, s.bin");
  if (!stmt) return stmt.error();
  stmt->bind(1, warehouseId).bind(2, partNumber);
  std::vector<StockLine> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    StockLine line;
    line.warehouseId = stmt->text(0);
    line.partNumber = stmt->text(1);
    line.bin = stmt->text(2);
    line.serverQuantity = stmt->real(3);
    line.localAdjustment = stmt->real(5);
    line.quantityOnHand = line.serverQuantity + line.localAdjustment;
    auto doc = detail::parseStored(stmt->text(4), "stock of " + line.partNumber + " in " + line.warehouseId);
    if (!doc) return doc.error();
    line.doc = std::move(doc).value();
    line.doc["quantityOnHand"] = line.quantityOnHand;
    out.push_back(std::move(line));
  }
  return out;
}

// ---- sync bookkeeping ------------------------------------------------------------------

Result<std::optional<Checkpoint>> Store::checkpoint(const std::string& resource) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT watermark, cursor, saved_at FROM sync_checkpoints WHERE resource = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, resource).step();
  if (!row) return row.error();
  if (!*row) return std::optional<Checkpoint>{};
  return std::optional<Checkpoint>{Checkpoint{stmt->text(0), stmt->text(1), fromMillis(stmt->integer(2))}};
}

Result<void> Store::saveCheckpoint(const std::string& resource, const Checkpoint& checkpoint) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(
      "INSERT INTO sync_checkpoints (resource, watermark, cursor, saved_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (resource) DO UPDATE SET watermark = excluded.watermark, cursor = excluded.cursor, "
      "saved_at = excluded.saved_at");
  if (!stmt) return stmt.error();
  return stmt->bind(1, resource)
      .bind(2, checkpoint.watermark)
      .bind(3, checkpoint.cursor)
      .bind(4, toMillis(clock_.now()))
      .run();
}

Result<void> Store::recordSyncRun(const SyncRun& run) {
  std::lock_guard lock(mutex_);
  auto txn = Transaction::begin(*db_);
  if (!txn) return txn.error();
  auto stmt = db_->prepare("INSERT INTO sync_runs (started_at, finished_at, outcome, detail) VALUES (?1, ?2, ?3, ?4)");
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
  auto trim = db_->prepare("DELETE FROM sync_runs WHERE id <= ?1");
  if (!trim) return trim.error();
  if (auto r = trim->bind(1, db_->lastInsertId() - tuning::kSyncRunsKept).run(); !r) return r;
  return txn->commit();
}

Result<std::optional<SyncRun>> Store::lastSyncRun() {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare("SELECT started_at, finished_at, outcome, detail FROM sync_runs ORDER BY id DESC LIMIT 1");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return std::optional<SyncRun>{};
  return std::optional<SyncRun>{
      SyncRun{fromMillis(stmt->integer(0)), fromMillis(stmt->integer(1)), stmt->text(2), stmt->text(3)}};
}

}  // namespace fieldagent::storage
