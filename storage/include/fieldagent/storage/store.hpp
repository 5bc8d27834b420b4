#pragma once
// The offline store: one SQLite database (WAL) beside an attachments folder, holding the
// technician's work orders, reference data, the outbox, attachments and conflicts. Every call
// is one transaction; a local write (cache change + outbox rows) is one call, so nobody can do
// half of it. Thread-safe: one connection behind a mutex (see docs/storage.md for why).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/records.hpp"
#include "fieldagent/storage/tuning.hpp"

namespace fieldagent::storage {

class Store;
class Database;
struct QuotaLedger;

enum class Durability {
  full,    // synchronous=FULL: a returned commit survives a power cut (the default)
  normal,  // synchronous=NORMAL: a power cut may lose the last commits, never corrupts
};

struct StoreOptions {
  std::filesystem::path dataDir;  // holds fieldagent.db and attachments/; created 0700 if missing
  std::uint64_t attachmentQuotaBytes = tuning::kDefaultAttachmentQuotaBytes;
  Durability durability = Durability::full;
};

// An attachment whose encrypted bytes are in place on disk, waiting to be recorded by a local
// write (together with its upload operation). Not recorded, it is swept at the next open.
struct FinishedAttachment {
  std::string id;
  AttachmentSpec spec;
  std::uint64_t sizeBytes = 0;
  std::string sha256;  // hex
};

// Streams one attachment to disk: encrypted in chunks, SHA-256 of the plaintext computed on
// the way, never held whole in memory. Dropped without finish(), nothing is left behind.
class AttachmentWriter {
 public:
  AttachmentWriter(AttachmentWriter&&) noexcept;
  AttachmentWriter& operator=(AttachmentWriter&&) noexcept;
  ~AttachmentWriter();

  const std::string& id() const;
  std::uint64_t bytesWritten() const;
  // Errors: "quota_exceeded" (names the sizes), "no_space", "io". After an error the writer is
  // spent: its partial file is removed.
  Result<void> append(std::string_view bytes);
  // Seals the last chunk, fsyncs and renames the file into place.
  Result<FinishedAttachment> finish();

 private:
  friend class Store;
  struct State;
  explicit AttachmentWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reads any byte range of a stored attachment, checking every chunk it touches.
class AttachmentReader {
 public:
  AttachmentReader(AttachmentReader&&) noexcept;
  AttachmentReader& operator=(AttachmentReader&&) noexcept;
  ~AttachmentReader();

  std::uint64_t size() const;
  // Up to `length` bytes from `offset`. Errors: "corrupt" (a chunk was altered, reordered or
  // cut off), "io".
  Result<std::string> read(std::uint64_t offset, std::size_t length) const;

 private:
  friend class Store;
  struct State;
  explicit AttachmentReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One local write: the change to the technician's view of a work order (and van stock, and the
// attachments it captured) with the outbox operations that carry it upstream. All or nothing.
struct LocalWrite {
  std::string workOrderId;
  std::optional<Json> workOrderPatch;  // RFC 7396 merge patch on the technician's view
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

class Store {
 public:
  // Opens (creating if needed) <dataDir>/fieldagent.db, applies pending migrations, puts
  // operations that were in flight when the agent died back to pending, and sweeps attachment
  // files that no write recorded. Errors: "schema_too_new", "corrupt", "io", "no_space", "busy",
  // and the key store's own ("corrupt", "insecure") when the data key cannot be had.
  static Result<std::unique_ptr<Store>> open(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy,
                                             platform::KeyStore& keys);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schemaVersion() const;
  std::filesystem::path databasePath() const;
  std::filesystem::path attachmentsDir() const;

  // ---- work orders (from upstream) -----------------------------------------------------
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

  // ---- the one-transaction local write --------------------------------------------------
  // Errors: "not_found" (work order not cached), "invalid" (no operations, bad dependency, a
  // patch that is not an object), "no_space".
  Result<LocalWriteResult> applyLocalWrite(const LocalWrite& write);

  // ---- reference data -------------------------------------------------------------------
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

  // ---- sync bookkeeping -----------------------------------------------------------------
  Result<std::optional<Checkpoint>> checkpoint(const std::string& resource);
  Result<void> saveCheckpoint(const std::string& resource, const Checkpoint& checkpoint);
  Result<void> recordSyncRun(const SyncRun& run);
  Result<std::optional<SyncRun>> lastSyncRun();

  // ---- outbox ---------------------------------------------------------------------------
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

  // ---- conflicts ------------------------------------------------------------------------
  Result<std::vector<ConflictRecord>> listConflicts(bool openOnly);
  Result<ConflictRecord> conflict(std::int64_t id);  // "not_found"
  // keepMine: the operation goes again on newBaseVersion; takeTheirs: it is archived; edit: it
  // goes again with newPayload. The conflict is closed in the same transaction.
  Result<void> resolveConflict(std::int64_t id, const ConflictResolution& resolution);

  // ---- attachments ----------------------------------------------------------------------
  // Errors: "quota_exceeded" when expectedBytes does not fit, "invalid" (empty kind).
  Result<AttachmentWriter> beginAttachment(const AttachmentSpec& spec);
  Result<AttachmentRecord> attachment(const std::string& id);  // "not_found"
  Result<std::vector<AttachmentRecord>> listAttachments(const std::string& workOrderId);
  Result<AttachmentReader> openAttachment(const std::string& id);  // "not_found", "gone", "corrupt"
  Result<void> updateAttachmentUpload(const std::string& id, const AttachmentUploadUpdate& update);
  // Removes the local bytes of a confirmed attachment (retention over); "not_confirmed" otherwise.
  Result<void> purgeAttachmentBytes(const std::string& id);
  // Bytes counted against the quota: recorded attachments still on the device plus writers
  // in progress.
  std::uint64_t attachmentBytesInUse();

 private:
  Store(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy, std::string dataKey,
        std::unique_ptr<Database> db);
  friend class AttachmentWriter;

  StoreOptions options_;
  platform::Clock& clock_;
  platform::Entropy& entropy_;
  std::string dataKey_;
  std::unique_ptr<Database> db_;
  std::mutex mutex_;
  std::shared_ptr<QuotaLedger> quota_;
};

}  // namespace fieldagent::storage
