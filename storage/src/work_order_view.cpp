// The technician's view of a work order (server copy + active local changes) and the storing of
// upstream's copies under it; the internals the work-order, local-write and outbox parts share.
#include <set>
#include <string>
#include <utility>
#include <variant>

#include "fieldagent/platform/encoding.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage::detail {

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

Result<void> storeServerCopies(Database& db, const std::vector<ServerWorkOrder>& workOrders,
                                       std::int64_t now) {
  for (const auto& wo : workOrders) {
    const std::string id = stringField(wo.doc, "workOrderId");
    const std::string updatedAt = stringField(wo.doc, "updatedAt");
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
    if (auto r = refreshWorkOrderView(db, id, &inHand); !r) return r;
  }
  return {};
}

Result<void> settleArchivedWrite(Database& db, std::int64_t writeId) {
  auto live = db.prepare("SELECT 1 FROM outbox WHERE write_id = ?1 AND state <> 'archived' LIMIT 1");
  if (!live) return live.error();
  auto row = live->bind(1, writeId).step();
  if (!row) return row.error();
  if (*row) return {};
  std::string workOrderId;
  {
    auto write = db.prepare("SELECT work_order_id FROM local_writes WHERE id = ?1");
    if (!write) return write.error();
    auto found = write->bind(1, writeId).step();
    if (!found) return found.error();
    if (!*found) return {};
    workOrderId = write->text(0);
  }
  auto off = db.prepare("UPDATE local_writes SET active = 0 WHERE id = ?1");
  if (!off) return off.error();
  if (auto r = off->bind(1, writeId).run(); !r) return r;
  auto close = db.prepare("UPDATE stock_adjustments SET open = 0 WHERE write_id = ?1");
  if (!close) return close.error();
  if (auto r = close->bind(1, writeId).run(); !r) return r;
  return refreshWorkOrderView(db, workOrderId);
}

Result<bool> workOrderExists(Database& db, const std::string& id) {
  auto stmt = db.prepare("SELECT 1 FROM work_orders WHERE work_order_id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  return stmt->step();
}

Result<void> validatePaging(int page, int pageSize) {
  if (page < 1) return makeError("invalid", "page must be 1 or more, not " + std::to_string(page));
  if (pageSize < 1 || pageSize > tuning::kMaxPageSize) {
    return makeError("invalid", "pageSize must be between 1 and " + std::to_string(tuning::kMaxPageSize) + ", not " +
                                    std::to_string(pageSize));
  }
  return {};
}

}  // namespace fieldagent::storage::detail
