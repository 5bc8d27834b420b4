#pragma once
// What the technician does offline, recorded as one local write each: the change to their view
// of the work order (and van stock) together with the outbox operations that carry it upstream,
// with idempotency keys and base versions, in one transaction (storage::Store::applyLocalWrite).
// Requests are checked here, with errors that name the field, before anything is written.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/coverage.hpp"
#include "fieldagent/sync/session.hpp"

namespace fieldagent::sync {

using nlohmann::json;

// The contract's technician moves: scheduled→en_route→on_site→completed, on_site→en_route (off
// to fetch parts), and any status to itself.
bool statusMoveAllowed(const std::string& from, const std::string& to);
bool knownStatus(const std::string& status);

struct Captured {
  std::int64_t writeId = 0;
  std::vector<storage::RecordedOperation> operations;
  std::vector<std::string> warnings;  // e.g. van stock went negative
  json detail;                        // what the app may show (the coverage classification, ...)
};

// Outbox operation kinds.
namespace op {
inline constexpr const char* kStatus = "status";
inline constexpr const char* kConsumption = "consumption";
inline constexpr const char* kAssignment = "assignment";
inline constexpr const char* kNote = "note";
inline constexpr const char* kChecklistAnswer = "checklist_answer";
inline constexpr const char* kAttachmentUpload = "attachment_upload";
}  // namespace op

class Capture {
 public:
  Capture(storage::Store& store, SessionManager& session, platform::Clock& clock, CoverageSettings coverage = {});

  // Errors: "not_found" (work order not cached), "invalid" (names the field), "invalid_transition"
  // (names both statuses), "forbidden" (missing entitlement), and the store's ("no_space", ...).
  Result<Captured> moveStatus(const std::string& workOrderId, const json& request);
  Result<Captured> recordConsumption(const std::string& workOrderId, const json& request);
  Result<Captured> addNote(const std::string& workOrderId, const json& request);
  Result<Captured> answerChecklist(const std::string& workOrderId, const std::string& itemId, const json& request);
  Result<Captured> assign(const std::string& workOrderId, const json& request);
  // Records a finished attachment with its upload operation.
  Result<Captured> recordAttachment(const storage::FinishedAttachment& attachment);

  // Replaces a parked (rejected) operation's request after checking it as a new one would be,
  // and sends it again. Errors: "invalid", "not_found", and the store's ("wrong_state").
  Result<void> editParked(std::int64_t operationId, const json& request);
  // The technician's other two answers to a parked (rejected or conflicting) operation: send it
  // again as it is, or give it up (its change leaves their view; upstream's copy stands).
  // Errors: "not_found", and the store's ("wrong_state": the operation is not parked).
  Result<void> retryParked(std::int64_t operationId);
  Result<void> discardParked(std::int64_t operationId);

  // The invoice-ready summary of the consumptions captured for a work order (sent or not).
  Result<json> invoice(const std::string& workOrderId);

 private:
  struct NormalizedConsumption {
    json body;
    std::vector<storage::StockAdjustment> stock;
  };
  // Checks a consumption request and fills in what the agent knows (technician, van).
  Result<NormalizedConsumption> normalizeConsumption(const json& request);
  Result<storage::WorkOrder> cached(const std::string& workOrderId);
  std::string baseVersionOf(const storage::WorkOrder& wo) const;
  std::string vanWarehouse() const;

  storage::Store& store_;
  SessionManager& session_;
  platform::Clock& clock_;
  CoverageSettings coverage_;
};

}  // namespace fieldagent::sync
