// The technician's view of a work order (server copy + active local changes) and the storing of
// upstream's copies under it; the internals the work-order, local-write and outbox parts share.
#include <set>
#include <string>
#include <utility>
#include <variant>

#include "fieldagent/platform/encoding.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage::detail {

std::optional<std::string> storedPatch(const LocalWrite& write) {
  if (write.appends.empty())
    return write.workOrderPatch ? std::optional<std::string>(write.workOrderPatch->dump()) : std::nullopt;
  Json patch = write.workOrderPatch ? *write.workOrderPatch : Json::object();
  Json& appends = patch[kAppendKey];
  appends = Json::object();
  for (const auto& [field, item] : write.appends) appends[field].push_back(item);
  return patch.dump();
}

void applyStoredPatch(Json& view, const Json& patch) {
  const auto appends = patch.find(kAppendKey);
  if (appends == patch.end()) {
    view.merge_patch(patch);
    return;
  }
  Json rest = patch;
  rest.erase(kAppendKey);
  view.merge_patch(rest);
  if (!appends->is_object() || !view.is_object()) return;
  for (const auto& [field, items] : appends->items()) {
    Json& list = view[field];
    if (!list.is_array()) list = Json::array();
    if (items.is_array())
      for (const auto& item : items) list.push_back(item);
  }
}

Result<void> refreshWorkOrderView(Database& db, const std::string& workOrderId, const ServerCopyInHand* inHand) {
  std::vector<Json> patches;
  bool hasLocal = false;
  {
    auto stmt =
        db.query("SELECT id, patch FROM local_writes WHERE work_order_id = ?1 AND active = 1 ORDER BY id", workOrderId);
    if (!stmt) return stmt.error();
    // A write without a patch (stock or attachments only) still counts as a local change.
    auto writes = stmt->rows([](Statement& row) -> Result<std::optional<Json>> {
      if (row.isNull(1)) return std::optional<Json>{};
      auto patch = parseStored(row.text(1), "local change " + std::to_string(row.integer(0)));
      if (!patch) return patch.error();
      return std::optional<Json>{std::move(patch).value()};
    });
    if (!writes) return writes.error();
    hasLocal = !writes->empty();
    for (auto& patch : *writes) {
      if (patch) patches.push_back(std::move(*patch));
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
      auto stmt = db.query("SELECT server_doc FROM work_orders WHERE work_order_id = ?1", workOrderId);
      if (!stmt) return stmt.error();
      auto serverText = stmt->firstRow(textColumn);
      if (!serverText) return serverText.error();
      if (!*serverText) return {};  // released; nothing to show
      auto doc = parseStored(**serverText, "server copy of work order " + workOrderId);
      if (!doc) return doc.error();
      built = std::move(doc).value();
    }
    for (const auto& patch : patches) applyStoredPatch(built, patch);
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
  auto current = db.query("SELECT technician_id FROM work_order_technicians WHERE work_order_id = ?1", workOrderId);
  if (!current) return current.error();
  auto stored = current->rows(textColumn);
  if (!stored) return stored.error();
  if (technicians == std::set<std::string>(stored->begin(), stored->end())) return {};
  if (auto r = db.run("DELETE FROM work_order_technicians WHERE work_order_id = ?1", workOrderId); !r) return r;
  for (const auto& tech : technicians) {
    if (auto r = db.run("INSERT INTO work_order_technicians (technician_id, work_order_id) VALUES (?1, ?2)", tech,
                        workOrderId);
        !r) {
      return r;
    }
  }
  return {};
}

Result<void> storeServerCopies(Database& db, const std::vector<ServerWorkOrder>& workOrders, std::int64_t now) {
  for (const auto& wo : workOrders) {
    const std::string id = stringField(wo.doc, "workOrderId");
    const std::string updatedAt = stringField(wo.doc, "updatedAt");
    {
      // A copy older than the one held (a page read before a newer answer was stored) must not
      // roll the cache back.
      auto held = db.query("SELECT server_updated_at FROM work_orders WHERE work_order_id = ?1", id);
      if (!held) return held.error();
      auto heldAt = held->firstRow(textColumn);
      if (!heldAt) return heldAt.error();
      WallTime mine, theirs;
      if (*heldAt && platform::parseIso8601(**heldAt, mine) && platform::parseIso8601(updatedAt, theirs) &&
          theirs < mine) {
        continue;
      }
    }
    const std::string text = wo.doc.dump();
    if (auto r = db.run("INSERT INTO work_orders (work_order_id, doc, server_doc, etag, server_updated_at, cached_at) "
                        "VALUES (?1, ?2, ?2, ?3, ?4, ?5) "
                        "ON CONFLICT (work_order_id) DO UPDATE SET server_doc = excluded.server_doc, "
                        "etag = excluded.etag, server_updated_at = excluded.server_updated_at, "
                        "cached_at = excluded.cached_at, detached = 0",
                        id, text, wo.etag, updatedAt, now);
        !r) {
      return r;
    }
    // Local changes whose operations upstream has all confirmed are in this fresh copy now.
    if (auto r = db.run("UPDATE local_writes SET active = 0 WHERE work_order_id = ?1 AND active = 1 AND NOT EXISTS "
                        "(SELECT 1 FROM outbox o WHERE o.write_id = local_writes.id AND o.state NOT IN ('done', "
                        "'archived'))",
                        id);
        !r) {
      return r;
    }
    const ServerCopyInHand inHand{wo.doc, text};
    if (auto r = refreshWorkOrderView(db, id, &inHand); !r) return r;
  }
  return {};
}

Result<void> settleArchivedWrite(Database& db, std::int64_t writeId) {
  auto live = db.exists("SELECT 1 FROM outbox WHERE write_id = ?1 AND state <> 'archived' LIMIT 1", writeId);
  if (!live) return live.error();
  if (*live) return {};
  auto write = db.query("SELECT work_order_id FROM local_writes WHERE id = ?1", writeId);
  if (!write) return write.error();
  auto workOrderId = write->firstRow(textColumn);
  if (!workOrderId) return workOrderId.error();
  if (!*workOrderId) return {};
  if (auto r = db.run("UPDATE local_writes SET active = 0 WHERE id = ?1", writeId); !r) return r;
  if (auto r = db.run("UPDATE stock_adjustments SET open = 0 WHERE write_id = ?1", writeId); !r) return r;
  return refreshWorkOrderView(db, **workOrderId);
}

Result<bool> workOrderExists(Database& db, const std::string& id) {
  return db.exists("SELECT 1 FROM work_orders WHERE work_order_id = ?1", id);
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
