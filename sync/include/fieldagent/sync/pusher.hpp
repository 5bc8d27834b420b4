#pragma once
// Drains the outbox: per work order in order and along explicit dependencies (the store's
// readyOperations() gives each work order's next sendable operation), work orders in parallel
// lanes so one slow or stuck work order never holds up another, every answer classified and
// acted on: done, retry later with capped full-jitter back-off (at least Retry-After), parked
// as rejected with the server's message, or handed to the conflict rules of docs/sync.md.
#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/answer.hpp"
#include "fieldagent/sync/progress.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/upstream_client.hpp"

namespace fieldagent::sync {

struct PushOptions {
  int lanes = tuning::kPushLanes;                // work orders pushed at the same time
  int readyBatch = tuning::kPushReadyBatch;      // operations asked of the store per look
  int maxReapplies = tuning::kMaxReapplies;      // status re-applied on a new version within one attempt
};

struct PushReport {
  int sent = 0;
  int done = 0;
  int retried = 0;         // also those blocked (Outcome::blocked): they wait on the slow schedule
  int rejected = 0;
  int conflicts = 0;       // conflict records left open for a person
  int reapplied = 0;       // status moves re-applied on the server's newer version
};

// What sending one operation came to. `answer` is what upstream said last.
struct SendResult {
  Answer<json> answer;
  // For conflicts the handler resolved into a conflict record itself.
  std::optional<storage::NewConflict> conflict;
  // Set when upstream applied the operation exactly on the version it was captured on (its
  // If-Match held at the first try): the version it answered with differs from that one by this
  // operation's own change only.
  bool appliedOnBase = false;
};

class Pusher {
 public:
  // Sends one operation (already marked in flight) and returns upstream's answer.
  using Handler = std::function<SendResult(const storage::OutboxOp&)>;

  // `progress` hears each operation upstream accepts, from the lanes' threads.
  Pusher(UpstreamClient& client, storage::Store& store, SessionManager& session, platform::Clock& clock,
         platform::Entropy& entropy, PushOptions options = {}, ProgressObserver& progress = ProgressObserver::none());

  // Adds or replaces the handler of an operation kind (the uploader registers
  // attachment_upload).
  void setHandler(const std::string& kind, Handler handler);

  // Sends everything that is ready now, and what becomes ready as earlier operations finish,
  // until nothing is ready. Returns what happened.
  Result<PushReport> drain();

  // Stops a drain in progress after the operations already being sent.
  void stop();

 private:
  void process(const storage::OutboxOp& operation, PushReport& report, std::mutex& reportMutex);
  SendResult sendStatus(const storage::OutboxOp& operation);
  // A person already chose "keep mine" on an assignment conflict of this work order, against
  // the assignment upstream still has.
  bool keptDespite(const std::string& workOrderId, const json& current);
  SendResult sendNote(const storage::OutboxOp& operation, const json& body);
  SendResult sendConsumption(const storage::OutboxOp& operation);
  Result<storage::WorkOrder> refresh(const std::string& workOrderId, json* freshDoc, std::string* etag);

  UpstreamClient& client_;
  storage::Store& store_;
  SessionManager& session_;
  platform::Clock& clock_;
  Backoff backoff_;
  PushOptions options_;
  ProgressObserver& progress_;
  std::map<std::string, Handler> handlers_;
  std::atomic<bool> stopping_{false};
};

}  // namespace fieldagent::sync
