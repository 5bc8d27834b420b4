// The ReferenceData part: customers, sites, assets, contracts, parts, technicians; van stock.
#include <string>
#include <utility>

#include "fieldagent/storage/reference_data.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

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

Result<void> ReferenceData::upsertReference(ReferenceKind kind, const std::vector<Json>& docs) {
  const ReferenceTable table = referenceTable(kind);
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].is_object() || detail::stringField(docs[i], table.keyField).empty()) {
      return makeError("invalid", std::string(toString(kind)) + " " + std::to_string(i + 1) + " of " +
                                      std::to_string(docs.size()) + " has no string " + table.keyField +
                                      "; nothing of the batch was stored");
    }
  }
  auto lock = core_.db().lock();
  Database& db = core_.db();
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
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

Result<Json> ReferenceData::reference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(std::string("SELECT doc FROM ") + table.table + " WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, key).step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", std::string(toString(kind)) + " " + key + " is not in the offline cache");
  return detail::parseStored(stmt->text(0), std::string(toString(kind)) + " " + key);
}

Result<bool> ReferenceData::hasReference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(std::string("SELECT 1 FROM ") + table.table + " WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, key).step();
  if (!row) return row.error();
  return *row;
}

Result<Page<Json>> ReferenceData::listReference(ReferenceKind kind, const std::optional<std::string>& parent, int page,
                                        int pageSize) {
  if (auto r = detail::validatePaging(page, pageSize); !r) return r.error();
  const ReferenceTable table = referenceTable(kind);
  const std::string where = parent ? " WHERE customer_id = ?1" : "";
  auto lock = core_.db().lock();
  Page<Json> out;
  out.page = page;
  out.pageSize = pageSize;
  {
    auto count = core_.db().prepare(std::string("SELECT COUNT(*) FROM ") + table.table + where);
    if (!count) return count.error();
    if (parent) count->bind(1, *parent);
    auto row = count->step();
    if (!row) return row.error();
    out.total = count->integer(0);
  }
  auto stmt =
      core_.db().prepare(std::string("SELECT id, doc FROM ") + table.table + where + " ORDER BY id LIMIT ?2 OFFSET ?3");
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

Result<std::vector<Json>> ReferenceData::contractsForAsset(const std::string& assetId) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(
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

Result<void> ReferenceData::upsertStock(const std::vector<Json>& stockDocs) {
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
  auto lock = core_.db().lock();
  Database& db = core_.db();
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  const std::int64_t now = toMillis(core_.clock.now());
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

Result<std::vector<StockLine>> ReferenceData::stock(const std::string& warehouseId,
                                            const std::optional<std::string>& partNumber) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().prepare(
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

}  // namespace fieldagent::storage
