#pragma once
// A person's decision on a conflict (through the local API), applied by the rules of
// docs/sync.md: keep mine re-applies the technician's change on upstream's current version;
// take theirs archives it (never deletes) together with the moves that were built on it; edit
// sends a corrected request instead.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/storage/store.hpp"

namespace fieldagent::sync {

class ConflictDesk {
 public:
  explicit ConflictDesk(storage::Store& store);

  // Errors: "not_found", "already_resolved", "invalid" (edit without a request), and the
  // store's.
  Result<void> resolve(std::int64_t conflictId, storage::ConflictChoice choice,
                       const std::optional<nlohmann::json>& editedRequest, const std::string& note);

 private:
  Result<void> archiveDependents(const std::string& workOrderId, std::int64_t operationId);
  storage::Store& store_;
};

}  // namespace fieldagent::sync
