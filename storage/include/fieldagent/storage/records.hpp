#pragma once
// What the offline store holds, as plain values: work orders, outbox operations, attachments,
// conflicts, reference data and sync checkpoints.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"

namespace fieldagent::storage {

using Json = nlohmann::json;
using platform::WallTime;

// ---- work orders -------------------------------------------------------------------------

// A work order as upstream sent it, with the version it came with.
struct ServerWorkOrder {
  Json doc;          // the whole upstream document; must hold a string "workOrderId"
  std::string etag;  // empty where upstream sends no ETag; "updatedAt" is then the version
};

struct WorkOrder {
  std::string workOrderId;
  Json doc;        // the technician's view: the server copy with unconfirmed local changes on top
  Json serverDoc;  // the copy upstream last sent
  std::string etag;
  std::string serverUpdatedAt;  // "updatedAt" of the server copy, as upstream wrote it
  bool hasLocalChanges = false;
  // No longer assigned upstream but kept because it holds local work not yet confirmed.
  bool detached = false;
};

// A work order's row as stored, the technician's view left as the JSON text the store wrote:
// what a list sends on without parsing it.
struct WorkOrderRow {
  std::string workOrderId;
  std::string docText;
  std::string etag;
  std::string serverUpdatedAt;
  bool hasLocalChanges = false;
  bool detached = false;
};

enum class WorkOrderSort { workOrderId, updatedAt, slaDueAt };

// The filters of upstream's GET /work-orders, applied to the technician's view.
struct WorkOrderQuery {
  std::optional<std::string> customerId;
  std::optional<std::string> status;
  std::optional<std::string> technicianId;
  std::optional<WallTime> slaDueFrom, slaDueTo;    // inclusive
  std::optional<WallTime> updatedFrom, updatedTo;  // inclusive
  WorkOrderSort sort = WorkOrderSort::workOrderId;
  int page = 1;
  int pageSize = 50;
};

template <class T>
struct Page {
  std::vector<T> items;
  int page = 1;
  int pageSize = 50;
  std::int64_t total = 0;
};

enum class ReleaseOutcome { removed, keptForLocalWork, notCached };

// ---- reference data ----------------------------------------------------------------------

// Each kind is kept as the upstream JSON document, keyed by its id; `parent` is the
// customerId where the kind has one (sites, contracts, assets), for listing by customer.
enum class ReferenceKind { customer, site, asset, contract, part, technician };
std::string_view toString(ReferenceKind kind);

// A van's (or any warehouse's) stock of one part in one bin. quantityOnHand is upstream's figure
// plus the local adjustments of captured parts not yet reflected upstream.
struct StockLine {
  std::string warehouseId;
  std::string partNumber;
  std::string bin;
  double serverQuantity = 0;
  double localAdjustment = 0;
  double quantityOnHand = 0;
  Json doc;  // upstream's document with quantityOnHand replaced by the local figure
};

struct StockAdjustment {
  std::string warehouseId;
  std::string partNumber;
  std::string bin;   // empty when the part is not kept in bins
  double delta = 0;  // negative when parts were used
};

// ---- sync bookkeeping --------------------------------------------------------------------

// Where a pull of one resource got to: the updatedFrom watermark it may start from next time and
// upstream's opaque cursor (both as upstream wrote them).
struct Checkpoint {
  std::string watermark;
  std::string cursor;
  WallTime savedAt{};
};

struct SyncRun {
  WallTime startedAt{};
  WallTime finishedAt{};
  std::string outcome;  // "ok", "partial", "offline", "failed", ...
  std::string detail;
};

// ---- outbox ------------------------------------------------------------------------------

enum class OpState { pending, in_flight, done, conflict, rejected, archived };
std::string_view toString(OpState state);
std::optional<OpState> parseOpState(std::string_view text);

// An operation to record as part of a local write.
struct NewOperation {
  std::string kind;  // "status", "consumption", "assignment", "attachment_upload", "note", ...
  Json payload;
  std::string baseVersion;                    // the ETag or updatedAt the edit was based on; empty for appends
  std::vector<std::int64_t> dependsOn;        // ids of operations already in the outbox
  std::vector<std::size_t> dependsOnInWrite;  // indexes of earlier operations of the same write
};

struct OutboxOp {
  std::int64_t id = 0;
  std::int64_t writeId = 0;
  std::string kind;
  std::string workOrderId;
  Json payload;
  std::string idempotencyKey;
  std::string baseVersion;
  OpState state = OpState::pending;
  // Waits on a dependency that is parked (rejected, conflict) or archived: it cannot go before a
  // person decides, and it does not hold up the rest of its work order meanwhile.
  bool held = false;
  int attempts = 0;
  WallTime nextAttemptAt{};
  std::string lastError;
  Json result;  // upstream's answer once done (e.g. the consumptionId), null before
  WallTime createdAt{};
  WallTime updatedAt{};
  std::vector<std::int64_t> dependsOn;
};

struct OutboxCounts {
  std::map<OpState, std::int64_t> byState;  // every state present, zero where none
  std::int64_t held = 0;
  std::optional<WallTime> oldestPendingCreatedAt;
};

struct OutboxFilter {
  std::optional<OpState> state;
  std::optional<std::string> workOrderId;
  std::int64_t afterId = 0;  // for paging through by id
  int limit = 100;
};

// ---- attachments -------------------------------------------------------------------------

enum class AttachmentState { stored, uploading, uploaded, confirmed, failed };
std::string_view toString(AttachmentState state);
std::optional<AttachmentState> parseAttachmentState(std::string_view text);

struct AttachmentSpec {
  std::string workOrderId;
  std::string kind;  // "photo", "signature", "document"
  std::string fileName;
  std::string contentType;
  std::optional<std::uint64_t> expectedBytes;  // lets the quota refuse before any byte is written
};

struct AttachmentRecord {
  std::string id;  // local id ("la_" + 32 hex); also the handle an app uses before upload
  std::string workOrderId;
  std::string kind;
  std::string fileName;
  std::string contentType;
  std::uint64_t sizeBytes = 0;
  std::string sha256;  // hex of the plaintext
  AttachmentState state = AttachmentState::stored;
  std::uint64_t uploadOffset = 0;
  std::string uploadToken;
  std::string upstreamId;
  std::string uploadUrl;
  std::optional<WallTime> uploadUrlExpiresAt;
  std::string lastError;
  bool bytesOnDevice = true;  // false once the local copy was purged after confirmation
  WallTime createdAt{};
  std::optional<WallTime> confirmedAt;
};

// Upload progress as the uploader learns it; unset fields keep their stored value.
struct AttachmentUploadUpdate {
  std::optional<AttachmentState> state;
  std::optional<std::uint64_t> uploadOffset;
  std::optional<std::string> uploadToken;
  std::optional<std::string> upstreamId;
  std::optional<std::string> uploadUrl;
  std::optional<WallTime> uploadUrlExpiresAt;
  std::optional<std::string> lastError;
};

// ---- conflicts ---------------------------------------------------------------------------

struct NewConflict {
  std::string field;    // the field or kind in conflict, e.g. "status", "assignment"
  Json base;            // what the technician's edit was based on
  Json theirs;          // upstream's current value
  Json yours;           // the technician's value
  std::string message;  // upstream's message, for a person
};

enum class ConflictChoice { keepMine, takeTheirs, edit };

struct ConflictResolution {
  ConflictChoice choice = ConflictChoice::keepMine;
  std::string newBaseVersion;      // keepMine / edit: the version the operation now builds on
  std::optional<Json> newPayload;  // edit: the payload to send instead
  std::string note;                // who decided and why, for the record
};

struct ConflictRecord {
  std::int64_t id = 0;
  std::int64_t operationId = 0;
  std::string workOrderId;
  std::string field;
  Json base, theirs, yours;
  std::string message;
  bool open = true;
  std::string resolution;  // "keep_mine", "take_theirs", "edit"; empty while open
  std::string resolutionNote;
  WallTime createdAt{};
  std::optional<WallTime> resolvedAt;
};

}  // namespace fieldagent::storage
