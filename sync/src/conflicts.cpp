#include "fieldagent/sync/conflicts.hpp"

namespace fieldagent::sync {

ConflictDesk::ConflictDesk(storage::Store& store) : store_(store) {}

Result<void> ConflictDesk::archiveDependents(const std::string& workOrderId, std::int64_t operationId) {
  auto ops = store_.outbox().listOperations({std::nullopt, workOrderId, 0, 10000});
  if (!ops) return ops.error();
  for (const auto& o : *ops) {
    if (o.state == storage::OpState::done || o.state == storage::OpState::archived) continue;
    if (std::find(o.dependsOn.begin(), o.dependsOn.end(), operationId) == o.dependsOn.end()) continue;
    if (auto r = store_.outbox().discard(o.id); !r) return r;
    if (auto r = archiveDependents(workOrderId, o.id); !r) return r;
  }
  return {};
}

Result<void> ConflictDesk::resolve(std::int64_t conflictId, storage::ConflictChoice choice,
                                   const std::optional<nlohmann::json>& editedRequest, const std::string& note) {
  auto conflict = store_.conflicts().conflict(conflictId);
  if (!conflict) return conflict.error();
  if (!conflict->open) {
    return makeError("already_resolved", "conflict " + std::to_string(conflictId) + " was resolved (" +
                                             conflict->resolution + ")");
  }
  auto operation = store_.outbox().operation(conflict->operationId);
  if (!operation) return operation.error();
  storage::ConflictResolution resolution;
  resolution.choice = choice;
  resolution.note = note;
  // The version to build on now is upstream's, as the cache last saw it.
  if (auto wo = store_.workOrders().workOrder(conflict->workOrderId); wo) {
    resolution.newBaseVersion = wo->etag.empty() ? wo->serverUpdatedAt : wo->etag;
  }
  if (choice == storage::ConflictChoice::edit) {
    if (!editedRequest || !editedRequest->is_object()) {
      return makeError("invalid", "an edit needs the corrected request as a JSON object");
    }
    nlohmann::json payload = operation->payload;
    payload["request"] = *editedRequest;
    resolution.newPayload = payload;
  }
  if (auto r = store_.conflicts().resolveConflict(conflictId, resolution); !r) return r;
  if (choice == storage::ConflictChoice::takeTheirs) {
    // Moves made on top of the one given up cannot go either: archived with it.
    return archiveDependents(conflict->workOrderId, conflict->operationId);
  }
  return {};
}

}  // namespace fieldagent::sync
