#pragma once
// The puller's bookkeeping: per-resource checkpoints and the log of recent sync runs.
#include <optional>
#include <string>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class SyncState {
 public:
  SyncState(const SyncState&) = delete;
  SyncState& operator=(const SyncState&) = delete;

  Result<std::optional<Checkpoint>> checkpoint(const std::string& resource);
  Result<void> saveCheckpoint(const std::string& resource, const Checkpoint& checkpoint);
  Result<void> recordSyncRun(const SyncRun& run);
  Result<std::optional<SyncRun>> lastSyncRun();

 private:
  friend class Store;
  explicit SyncState(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
