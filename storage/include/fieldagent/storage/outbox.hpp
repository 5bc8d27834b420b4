#pragma once
// The outbox: operations waiting to go upstream, the ready queue the pusher drains, and the
// state moves an operation makes (pending, in flight, done, parked, archived).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class Outbox {
 public:
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // The operations that may be sent now: per work order the oldest operation still to send
  // (pending or in flight, not held), when it is pending, due, and every dependency is done.
  Result<std::vector<OutboxOp>> readyOperations(WallTime now, int limit);
  // SQLite's plan for the ready query, one line per step, for tests and support: it must search
  // indexes, never scan the outbox's history.
  Result<std::vector<std::string>> explainReadyOperations();
  Result<OutboxOp> operation(std::int64_t id);  // "not_found"
  Result<std::vector<OutboxOp>> listOperations(const OutboxFilter& filter);
  Result<OutboxCounts> outboxCounts();
  // The state moves; each fails with "wrong_state" when the operation is not in a state the
  // move starts from, so two pushers cannot both take one operation.
  // pending -> in_flight. Its commit is not waited on to reach the disk (see outbox.cpp): a
  // power cut can only leave the operation pending, which is what opening the store does anyway.
  Result<void> markInFlight(std::int64_t id);
  // in_flight -> done; with the work order upstream answered with (when it has a string
  // workOrderId), stored in the same transaction as upsertWorkOrder would. With
  // `rebaseFromVersion` (the version this operation was applied on, its own change being the
  // only one between that and freshCopy's ETag): the work order's pending operations based on
  // that version are moved to freshCopy's ETag.
  Result<void> markDone(std::int64_t id, const Json& upstreamAnswer,
                        const std::optional<ServerWorkOrder>& freshCopy = std::nullopt,
                        const std::optional<std::string>& rebaseFromVersion = std::nullopt);
  Result<void> markRetryLater(std::int64_t id, WallTime nextAttemptAt,  // in_flight|pending -> pending
                              const std::string& error);
  Result<void> markRejected(std::int64_t id, const std::string& upstreamMessage);  // in_flight -> rejected
  // in_flight -> conflict, with the conflict record; returns the conflict's id.
  Result<std::int64_t> markConflict(std::int64_t id, const NewConflict& conflict);
  // A parked (rejected or conflict) operation back to pending with a fresh idempotency key
  // (upstream recorded no effect for it), optionally on a new base version.
  Result<void> retryParked(std::int64_t id, const std::optional<std::string>& newBaseVersion = std::nullopt);
  // Replaces a parked operation's payload and sends it again (fresh idempotency key: upstream
  // refuses a known key with a different body).
  Result<void> editParked(std::int64_t id, const Json& payload);
  // Archives (never deletes) a parked or not-yet-sent operation; its local changes leave the
  // technician's view once no live operation of their write is left.
  Result<void> discard(std::int64_t id);

 private:
  friend class Store;
  explicit Outbox(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
