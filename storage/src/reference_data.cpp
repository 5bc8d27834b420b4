// The ReferenceData part: customers, sites, assets, contracts, parts, technicians; van stock.
#include <string>
#include <utility>

#include "fieldagent/storage/reference_data.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

struct ReferenceTable {
  ReferenceKind kind;
  const char* table;
  const char* keyField;
  const char* parentField;  // nullptr where the kind has no customer
};

constexpr ReferenceTable kTables[] = {
    {ReferenceKind::customer, "customers", "customerId", nullptr},
    {ReferenceKind::site, "sites", "siteId", "customerId"},
    {ReferenceKind::asset, "assets", "assetId", "customerId"},
    {ReferenceKind::contract, "contracts", "contractId", "customerId"},
    {ReferenceKind::part, "parts", "partNumber", nullptr},
    {ReferenceKind::technician, "technicians", "technicianId", nullptr},
};

ReferenceTable referenceTable(ReferenceKind kind) {
  for (const auto& table : kTables) {
    if (table.kind == kind) return table;
  }
  return kTables[0];
}

}  // namespace

std::string_view toString(ReferenceKind kind) {
  static constexpr detail::EnumName<ReferenceKind> kNames[] = {
      {ReferenceKind::customer, "customer"}, {ReferenceKind::site, "site"}, {ReferenceKind::asset, "asset"},
      {ReferenceKind::contract, "contract"}, {ReferenceKind::part, "part"}, {ReferenceKind::technician, "technician"}};
  return detail::nameOf(kind, kNames);
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
  return core_.transact([&](Database& db, std::int64_t now) -> Result<void> {
    for (const auto& doc : docs) {
      const std::string key = detail::stringField(doc, table.keyField);
      std::optional<std::string> parent;
      if (table.parentField != nullptr && !detail::stringField(doc, table.parentField).empty()) {
        parent = detail::stringField(doc, table.parentField);
      }
      if (auto r = db.run(std::string("INSERT INTO ") + table.table +
                              " (id, customer_id, doc, updated_at, cached_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                              "ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, "
                              "doc = excluded.doc, updated_at = excluded.updated_at, cached_at = excluded.cached_at",
                          key, parent, doc.dump(), detail::stringField(doc, "updatedAt"), now);
          !r) {
        return r;
      }
      if (kind != ReferenceKind::contract) continue;
      if (auto r = db.run("DELETE FROM contract_assets WHERE contract_id = ?1", key); !r) return r;
      const auto assets = doc.find("assetIds");
      if (assets == doc.end() || !assets->is_array()) continue;
      for (const auto& asset : *assets) {
        if (!asset.is_string()) continue;
        if (auto r = db.run("INSERT OR IGNORE INTO contract_assets (asset_id, contract_id) VALUES (?1, ?2)",
                            asset.get<std::string>(), key);
            !r) {
          return r;
        }
      }
    }
    return {};
  });
}

Result<Json> ReferenceData::reference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(std::string("SELECT doc FROM ") + table.table + " WHERE id = ?1", key);
  if (!stmt) return stmt.error();
  auto text = stmt->firstRow(detail::textColumn);
  if (!text) return text.error();
  if (!*text) return makeError("not_found", std::string(toString(kind)) + " " + key + " is not in the offline cache");
  return detail::parseStored(**text, std::string(toString(kind)) + " " + key);
}

Result<bool> ReferenceData::hasReference(ReferenceKind kind, const std::string& key) {
  const ReferenceTable table = referenceTable(kind);
  auto lock = core_.db().lock();
  return core_.db().exists(std::string("SELECT 1 FROM ") + table.table + " WHERE id = ?1", key);
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
    auto total = count->firstRow(detail::integerColumn);
    if (!total) return total.error();
    out.total = total->value_or(0);
  }
  auto stmt =
      core_.db().prepare(std::string("SELECT id, doc FROM ") + table.table + where + " ORDER BY id LIMIT ?2 OFFSET ?3");
  if (!stmt) return stmt.error();
  if (parent) stmt->bind(1, *parent);
  stmt->bind(2, pageSize).bind(3, static_cast<std::int64_t>(page - 1) * pageSize);
  auto items = stmt->rows([&](Statement& row) {
    return detail::parseStored(row.text(1), std::string(toString(kind)) + " " + row.text(0));
  });
  if (!items) return items.error();
  out.items = std::move(items).value();
  return out;
}

Result<std::vector<Json>> ReferenceData::contractsForAsset(const std::string& assetId) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(
      "SELECT c.id, c.doc FROM contract_assets a JOIN contracts c ON c.id = a.contract_id WHERE a.asset_id = ?1 "
      "ORDER BY c.id",
      assetId);
  if (!stmt) return stmt.error();
  return stmt->rows([](Statement& row) { return detail::parseStored(row.text(1), "contract " + row.text(0)); });
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
  return core_.transact([&](Database& db, std::int64_t now) -> Result<void> {
    for (const auto& doc : stockDocs) {
      const std::string warehouse = detail::stringField(doc, "warehouseId");
      const std::string part = detail::stringField(doc, "partNumber");
      const std::string bin = detail::stringField(doc, "bin");
      if (auto r = db.run("INSERT INTO stock (warehouse_id, part_number, bin, quantity, doc, updated_at, cached_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (warehouse_id, part_number, bin) DO UPDATE "
                          "SET quantity = excluded.quantity, doc = excluded.doc, updated_at = excluded.updated_at, "
                          "cached_at = excluded.cached_at",
                          warehouse, part, bin, doc["quantityOnHand"].get<double>(), doc.dump(),
                          detail::stringField(doc, "updatedAt"), now);
          !r) {
        return r;
      }
      // Parts whose consumption upstream has confirmed are in its figure now.
      if (auto r = db.run("UPDATE stock_adjustments SET open = 0 WHERE warehouse_id = ?1 AND part_number = ?2 AND "
                          "bin = ?3 AND open = 1 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.write_id = "
                          "stock_adjustments.write_id AND o.state NOT IN ('done', 'archived'))",
                          warehouse, part, bin);
          !r) {
        return r;
      }
    }
    return {};
  });
}

Result<std::vector<StockLine>> ReferenceData::stock(const std::string& warehouseId,
                                                    const std::optional<std::string>& partNumber) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(
      "SELECT s.warehouse_id, s.part_number, s.bin, s.quantity, s.doc, "
      "COALESCE((SELECT SUM(a.delta) FROM stock_adjustments a WHERE a.open = 1 AND a.warehouse_id = s.warehouse_id "
      "AND a.part_number = s.part_number AND a.bin = s.bin), 0) "
      "FROM stock s WHERE s.warehouse_id = ?1 AND (?2 IS NULL OR s.part_number = ?2) ORDER BY s.part_number, s.bin",
      warehouseId, partNumber);
  if (!stmt) return stmt.error();
  return stmt->rows([](Statement& row) -> Result<StockLine> {
    StockLine line;
    line.warehouseId = row.text(0);
    line.partNumber = row.text(1);
    line.bin = row.text(2);
    line.serverQuantity = row.real(3);
    line.localAdjustment = row.real(5);
    line.quantityOnHand = line.serverQuantity + line.localAdjustment;
    auto doc = detail::parseStored(row.text(4), "stock of " + line.partNumber + " in " + line.warehouseId);
    if (!doc) return doc.error();
    line.doc = std::move(doc).value();
    line.doc["quantityOnHand"] = line.quantityOnHand;
    return line;
  });
}

}  // namespace fieldagent::storage
