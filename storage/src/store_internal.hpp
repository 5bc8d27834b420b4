#pragma once
// Helpers shared by the store's source files.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "database.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/storage/records.hpp"
#include "fieldagent/storage/store.hpp"

namespace fieldagent::storage::detail {

inline std::int64_t toMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline WallTime fromMillis(std::int64_t ms) {
  return WallTime{std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds{ms})};
}

// Milliseconds of an ISO 8601 string field of `doc`, or nothing when absent or malformed.
std::optional<std::int64_t> isoFieldMillis(const Json& doc, const char* field);

// A string field of `doc`, or "" when absent or not a string.
std::string stringField(const Json& doc, const char* field);

// Parses JSON the store wrote earlier; the file is on disk, so damage is reported, not trusted.
Result<Json> parseStored(const std::string& text, std::string_view what);

// The random part of ids and idempotency keys: `bytes` of entropy as lower-case hex.
std::string randomHex(platform::Entropy& entropy, std::size_t bytes);

}  // namespace fieldagent::storage::detail

namespace fieldagent::storage {

// Bytes of attachments on the device, for the quota: recorded ones plus those being written or
// finished but not yet recorded by a local write.
struct QuotaLedger {
  std::mutex mutex;
  std::uint64_t limit = 0;
  std::uint64_t recorded = 0;
  std::map<std::string, std::uint64_t> unrecorded;

  std::uint64_t inUseLocked() const {
    std::uint64_t total = recorded;
    for (const auto& [id, bytes] : unrecorded) total += bytes;
    return total;
  }
};

}  // namespace fieldagent::storage

namespace fieldagent::storage::detail {

inline constexpr const char* kDatabaseFile = "fieldagent.db";
inline constexpr const char* kAttachmentsFolder = "attachments";

// What the parts of a store share: the one database (connection and lock), the store's clock,
// entropy and data key, and the attachment quota (shared with writers that outlive a call).
struct StoreCore {
  StoreOptions options;
  platform::Clock& clock;
  platform::Entropy& entropy;
  std::string dataKey;
  std::unique_ptr<Database> database;
  std::shared_ptr<QuotaLedger> quota = std::make_shared<QuotaLedger>();

  Database& db() { return *database; }
  std::int64_t nowMillis() const { return toMillis(clock.now()); }
  std::filesystem::path attachmentsDir() const { return options.dataDir / kAttachmentsFolder; }
};

// The server copy a caller has just stored, parsed and as the text it wrote.
struct ServerCopyInHand {
  const Json& doc;
  const std::string& text;
};

// Rebuilds the technician's view of a work order (server copy + active local writes) and its
// indexed columns. Call inside a transaction; `inHand`, when given, must be the row's server_doc.
Result<void> refreshWorkOrderView(Database& db, const std::string& workOrderId,
                                  const ServerCopyInHand* inHand = nullptr);

// Stores upstream's copies (validated by the caller), skipping any older than the one held, and
// folds confirmed local changes into them. Call inside a transaction.
Result<void> storeServerCopies(Database& db, const std::vector<ServerWorkOrder>& workOrders, std::int64_t nowMillis);

// Once every operation of a write is archived, its changes leave the view and its stock
// adjustments stop counting. Call inside a transaction.
Result<void> settleArchivedWrite(Database& db, std::int64_t writeId);

// Whether the work order is cached.
Result<bool> workOrderExists(Database& db, const std::string& id);

// "invalid" unless page >= 1 and 1 <= pageSize <= tuning::kMaxPageSize.
Result<void> validatePaging(int page, int pageSize);

// Sends a parked operation again (pending, due now, fresh idempotency key), optionally on a new
// base version or with a new payload. Call inside a transaction.
Result<void> requeueParked(Database& db, platform::Entropy& entropy, std::int64_t id, std::int64_t now,
                           const std::optional<std::string>& baseVersion, const std::optional<Json>& payload);

// Archives a pending or parked operation and settles its write. Call inside a transaction.
Result<void> archiveOp(Database& db, std::int64_t id, std::int64_t now);

// Recomputes `held` for every operation that depends, directly or not, on `opId`.
Result<void> refreshHolds(Database& db, std::int64_t opId);

}  // namespace fieldagent::storage::detail
