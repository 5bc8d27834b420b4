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
#include <type_traits>
#include <utility>
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

// An enum's names as stored in the database, and the look-ups both ways.
template <class Enum>
struct EnumName {
  Enum value;
  std::string_view name;
};

template <class Enum, std::size_t N>
std::string_view nameOf(Enum value, const EnumName<Enum> (&names)[N]) {
  for (const auto& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> valueNamed(std::string_view text, const EnumName<Enum> (&names)[N]) {
  for (const auto& entry : names) {
    if (entry.name == text) return entry.value;
  }
  return std::nullopt;
}

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

  // Runs `body(db, nowMillis)` under the database's lock in one transaction, committed when the
  // body succeeds and rolled back when it fails; returns what the body returns.
  template <class Body>
  auto transact(Body&& body) -> std::invoke_result_t<Body&, Database&, std::int64_t> {
    auto lock = db().lock();
    auto txn = Transaction::begin(db());
    if (!txn) return txn.error();
    auto result = body(db(), nowMillis());
    if (!result) return result;
    if (auto r = txn->commit(); !r) return r.error();
    return result;
  }
};

// The server copy a caller has just stored, parsed and as the text it wrote.
struct ServerCopyInHand {
  const Json& doc;
  const std::string& text;
};

// Rebuilds the technician's view of a work order (server copy + active local writes) and its
// indexed columns. Call inside a transaction; `inHand`, when given, must be the row's server_doc.
// A local write's change to the view as stored in local_writes.patch: its merge patch, with the
// items it appends to arrays under this key ({"$append": {"notes": [item]}}); no contract field
// begins with '$'. Nothing when the write leaves the view alone.
inline constexpr const char* kAppendKey = "$append";
std::optional<std::string> storedPatch(const LocalWrite& write);
// Applies a stored patch to a view.
void applyStoredPatch(Json& view, const Json& patch);

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

// The row helper's readers for a query of one column.
inline std::int64_t integerColumn(Statement& row) { return row.integer(0); }
inline std::string textColumn(Statement& row) { return row.text(0); }

// "fa_" + 32 hex: an outbox operation's idempotency key.
std::string makeIdempotencyKey(platform::Entropy& entropy);

// Error "not_found" when there is no such operation.
Result<OutboxOp> loadOp(Database& db, std::int64_t id);

// Closing an operation's open conflicts as part of a move.
struct ConflictClose {
  std::string resolution;  // "keep_mine", "edit", "take_theirs"
  std::string note;
};

// One state move of an outbox operation: from one of `from` to `to`, with what changes beside
// the state. Unset fields keep their stored value.
struct OpMove {
  OpMove(std::vector<OpState> fromStates, OpState toState, const char* verbForErrors)
      : from(std::move(fromStates)), to(toState), verb(verbForErrors) {}

  std::vector<OpState> from;
  OpState to;
  const char* verb;  // for "cannot <verb> operation N: it is <state>"
  bool countAttempt = false;
  std::optional<std::int64_t> nextAttemptAt;
  std::optional<std::string> lastError;
  bool clearLastError = false;  // last_error = NULL
  std::optional<std::string> result;
  std::optional<std::string> idempotencyKey;
  std::optional<std::string> baseVersion;
  std::optional<std::string> payload;
  std::optional<ConflictClose> closeConflicts;
};

// Applies `move` ("wrong_state" when the operation is in none of move.from), refreshes the holds
// of the operations that depend on it when it parks, unparks or archives, and closes its open
// conflicts when asked. Call inside a transaction.
Result<void> moveOp(Database& db, std::int64_t id, const OpMove& move, std::int64_t now);

// The move that sends a parked operation again (pending, due now, fresh idempotency key),
// optionally on a new base version or with a new payload.
OpMove requeueMove(platform::Entropy& entropy, const std::optional<std::string>& baseVersion,
                   const std::optional<Json>& payload);

// Archives a pending or parked operation and settles its write. Call inside a transaction.
Result<void> archiveOp(Database& db, std::int64_t id, std::int64_t now, std::optional<ConflictClose> close);

// Recomputes `held` for every operation that depends, directly or not, on `opId`.
Result<void> refreshHolds(Database& db, std::int64_t opId);

}  // namespace fieldagent::storage::detail
