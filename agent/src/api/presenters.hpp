#pragma once
// How the local API shapes what the store and the capture hand back into the JSON the apps read
// (docs/local-api.yaml). No handler builds these shapes itself.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"

namespace fieldagent::agent::api {

using nlohmann::json;

json operationJson(const storage::OutboxOp& o);
json conflictJson(const storage::ConflictRecord& c);
json attachmentJson(const storage::AttachmentRecord& a);
json workOrderJson(storage::WorkOrder wo);
// A page of work orders as JSON text. Errors: "corrupt" (a stored view is not valid JSON).
Result<std::string> workOrderPageText(const storage::Page<storage::WorkOrderRow>& page);
// A whole list as one page: {"items", "page": 1, "pageSize", "total"}.
json singlePage(json items);
// The 202 answer to a recorded write: its write id, operation ids, warnings and detail.
json acceptedJson(const sync::Captured& captured);

}  // namespace fieldagent::agent::api
