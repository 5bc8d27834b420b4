#pragma once
// Conflicts: an operation upstream refused on a changed version, with base, theirs and yours
// kept side by side until a person decides.
#include <cstdint>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class Conflicts {
 public:
  Conflicts(const Conflicts&) = delete;
  Conflicts& operator=(const Conflicts&) = delete;

  Result<std::vector<ConflictRecord>> listConflicts(bool openOnly);
  Result<ConflictRecord> conflict(std::int64_t id);  // "not_found"
  // keepMine: the operation goes again on newBaseVersion; takeTheirs: it is archived; edit: it
  // goes again with newPayload. The conflict is closed in the same transaction.
  Result<void> resolveConflict(std::int64_t id, const ConflictResolution& resolution);

 private:
  friend class Store;
  explicit Conflicts(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
