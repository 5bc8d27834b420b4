#pragma once
// Reference data (customers, sites, assets, contracts, parts, technicians) and van stock, as
// upstream sent them, with the local adjustments of captured parts on top of the stock.
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class ReferenceData {
 public:
  ReferenceData(const ReferenceData&) = delete;
  ReferenceData& operator=(const ReferenceData&) = delete;

  // Errors: "invalid" (a document without its key; nothing of the batch is stored).
  Result<void> upsertReference(ReferenceKind kind, const std::vector<Json>& docs);
  Result<Json> reference(ReferenceKind kind, const std::string& key);  // "not_found"
  Result<bool> hasReference(ReferenceKind kind, const std::string& key);
  // `parent` filters by customerId for sites, assets and contracts.
  Result<Page<Json>> listReference(ReferenceKind kind, const std::optional<std::string>& parent, int page,
                                   int pageSize);
  Result<std::vector<Json>> contractsForAsset(const std::string& assetId);
  Result<void> upsertStock(const std::vector<Json>& stockDocs);
  Result<std::vector<StockLine>> stock(const std::string& warehouseId,
                                       const std::optional<std::string>& partNumber = std::nullopt);

 private:
  friend class Store;
  explicit ReferenceData(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
