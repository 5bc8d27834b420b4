#pragma once
// The one-transaction local write: the change to the technician's view of a work order (and van
// stock, and the attachments it captured) with the outbox operations that carry it upstream.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/attachments.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

// One local write. All or nothing.
struct LocalWrite {
  std::string workOrderId;
  std::optional<Json> workOrderPatch;  // RFC 7396 merge patch on the technician's view
  // Items added at the end of an array of the view (a note). Unlike a merge patch of the whole
  // array, what upstream adds to it meanwhile stays in view, and each write stores its own item
  // only, so the n-th note costs the same as the first.
  std::vector<std::pair<std::string, Json>> appends;  // (field, item)
  std::vector<StockAdjustment> stock;
  std::vector<FinishedAttachment> attachments;
  std::vector<NewOperation> operations;  // at least one
};

struct RecordedOperation {
  std::int64_t id = 0;
  std::string idempotencyKey;
};

struct LocalWriteResult {
  std::int64_t writeId = 0;
  std::vector<RecordedOperation> operations;  // in the order given
};

class LocalWrites {
 public:
  LocalWrites(const LocalWrites&) = delete;
  LocalWrites& operator=(const LocalWrites&) = delete;

  // Errors: "not_found" (work order not cached), "invalid" (no operations, bad dependency, a
  // patch that is not an object), "no_space".
  Result<LocalWriteResult> applyLocalWrite(const LocalWrite& write);

 private:
  friend class Store;
  explicit LocalWrites(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
