#pragma once
// The work-order cache: upstream's copies as they came, the technician's view built on them
// (server copy + unconfirmed local changes), and the release of work orders no longer assigned.
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class WorkOrders {
 public:
  WorkOrders(const WorkOrders&) = delete;
  WorkOrders& operator=(const WorkOrders&) = delete;

  // Stores upstream's copies whole, one transaction for the batch. Local changes whose
  // operations are all confirmed are dropped now that a fresh copy arrived; the rest stay on
  // top. Errors: "invalid" (no string workOrderId; nothing of the batch is stored).
  Result<void> upsertWorkOrders(const std::vector<ServerWorkOrder>& workOrders);
  Result<void> upsertWorkOrder(const ServerWorkOrder& workOrder);
  // Error "not_found" when the work order is not cached.
  Result<WorkOrder> workOrder(const std::string& workOrderId);
  // The updatedAt of upstream's copy held for this work order, nothing when it is not cached:
  // what the puller compares a list item with, without reading the documents.
  Result<std::optional<std::string>> serverUpdatedAt(const std::string& workOrderId);
  // A page of the technician's view; its items leave serverDoc null (read one work order for it).
  Result<Page<WorkOrder>> listWorkOrders(const WorkOrderQuery& query);
  // The same page with each view as stored text, unparsed (the caller checks it before use).
  Result<Page<WorkOrderRow>> listWorkOrderRows(const WorkOrderQuery& query);
  Result<std::vector<std::string>> workOrderIds();
  // For a work order upstream no longer assigns to this technician: removed, unless it holds
  // local work not yet confirmed, in which case it is kept and flagged detached.
  Result<ReleaseOutcome> releaseWorkOrder(const std::string& workOrderId);

 private:
  friend class Store;
  explicit WorkOrders(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
