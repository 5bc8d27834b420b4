#include "fieldagent/sync/pusher.hpp"

#include <Poco/Logger.h>

#include <condition_variable>
#include <deque>
#include <set>
#include <thread>

#include "fieldagent/sync/capture.hpp"

namespace fieldagent::sync {
namespace {

Poco::Logger& log() { return Poco::Logger::get("fieldagent.pusher"); }

std::string str(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : "";
}

bool looksLikeEtag(const std::string& version) {
  return !version.empty() && (version.front() == '"' || version.rfind("W/", 0) == 0);
}

bool assignedTo(const json& wo, const std::string& technicianId) {
  if (!wo.contains("assignedTechnicianIds") || !wo["assignedTechnicianIds"].is_array()) return false;
  for (const auto& t : wo["assignedTechnicianIds"]) {
    if (t.is_string() && t.get_ref<const std::string&>() == technicianId) return true;
  }
  return false;
}

// The work order upstream sent along with a 409/412 (the contract's details.current), or null.
// Not every 409 carries one (a tus offset mismatch, a proxy's page): reading it must not throw.
json currentIn(const json& details) {
  return details.is_object() && details.contains("current") ? details["current"] : json();
}

Answer<json> waiting(const std::string& message) {
  Answer<json> a;
  a.outcome = Outcome::retry;
  a.errorCode = "waiting";
  a.message = message;
  return a;
}

}  // namespace

Pusher::Pusher(UpstreamClient& client, storage::Store& store, SessionManager& session, platform::Clock& clock,
               platform::Entropy& entropy, PushOptions options, ProgressObserver& progress)
    : client_(client),
      store_(store),
      session_(session),
      clock_(clock),
      backoff_(entropy),
      options_(options),
      progress_(progress) {
  handlers_[op::kStatus] = [this](const storage::OutboxOp& o) { return sendStatus(o); };
  handlers_[op::kConsumption] = [this](const storage::OutboxOp& o) { return sendConsumption(o); };
  handlers_[op::kAssignment] = [this](const storage::OutboxOp& o) {
    return SendResult{client_.postAssignment(o.workOrderId, o.payload.value("request", json::object()),
                                             o.idempotencyKey),
                      std::nullopt};
  };
  handlers_[op::kNote] = [this](const storage::OutboxOp& o) {
    return sendNote(o, {{"note", str(o.payload, "note")}, {"occurredAt", str(o.payload, "occurredAt")}});
  };
  handlers_[op::kChecklistAnswer] = [this](const storage::OutboxOp& o) {
    // The contract has no checklist call; answers travel as a note on a status self-move
    // (docs/sync.md), and stay structured in the payload kept locally.
    const std::string note = "Checklist " + str(o.payload, "itemId") + " (" + str(o.payload, "text") +
                             "): " + (o.payload.contains("answer") ? o.payload["answer"].dump() : "null");
    return sendNote(o, {{"note", note}, {"occurredAt", str(o.payload, "occurredAt")}});
  };
}

void Pusher::setHandler(const std::string& kind, Handler handler) { handlers_[kind] = std::move(handler); }

void Pusher::stop() { stopping_ = true; }

Result<storage::WorkOrder> Pusher::refresh(const std::string& workOrderId, json* freshDoc, std::string* etag) {
  auto fresh = client_.getWorkOrder(workOrderId);
  if (!fresh.ok()) return makeError(fresh.errorCode, "GET /work-orders/" + workOrderId + ": " + fresh.message);
  if (auto r = store_.workOrders().upsertWorkOrder({*fresh.value, fresh.etag}); !r) return r.error();
  if (freshDoc) *freshDoc = *fresh.value;
  if (etag) *etag = fresh.etag;
  return store_.workOrders().workOrder(workOrderId);
}

bool Pusher::keptDespite(const std::string& workOrderId, const json& current) {
  auto decided = store_.conflicts().listConflicts(false);
  if (!decided) return false;
  for (const auto& c : *decided) {
    if (c.workOrderId == workOrderId && c.field == "assignment" && !c.open && c.resolution == "keep_mine" &&
        c.theirs.is_object() &&
        c.theirs.value("assignedTechnicianIds", json()) == current.value("assignedTechnicianIds", json())) {
      return true;
    }
  }
  return false;
}

SendResult Pusher::sendStatus(const storage::OutboxOp& o) {
  json body = o.payload.value("request", json::object());
  const std::string yours = str(body, "status");
  std::string ifMatch = looksLikeEtag(o.baseVersion) ? o.baseVersion : "";
  std::string key = o.idempotencyKey;
  const std::string me = session_.status().user.technicianId;

  auto conflictWith = [&](const json& theirs, const std::string& field, const std::string& message) {
    return storage::NewConflict{field,
                                {{"version", o.baseVersion}, {"status", str(o.payload, "from")}},
                                theirs,
                                body,
                                message};
  };

  if (ifMatch.empty() && !o.baseVersion.empty()) {
    // No ETag upstream: compare updatedAt of a fresh read with the version the edit was based on.
    json fresh;
    if (auto r = refresh(o.workOrderId, &fresh, nullptr); !r) return {waiting(r.error().message), std::nullopt};
    if (str(fresh, "updatedAt") != o.baseVersion && !statusMoveAllowed(str(fresh, "status"), yours)) {
      Answer<json> a;
      a.outcome = Outcome::conflict;
      a.message = "the work order changed upstream (updatedAt " + str(fresh, "updatedAt") + ")";
      return {a, conflictWith(fresh, "status", a.message)};
    }
  }

  for (int reapply = 0;; ++reapply) {
    auto a = client_.postStatus(o.workOrderId, body, ifMatch, key);
    if (a.outcome == Outcome::ok) {
      SendResult done{a, std::nullopt};
      done.appliedOnBase = reapply == 0 && !ifMatch.empty();
      return done;
    }
    if (a.outcome == Outcome::rejected && a.status == 403) {
      // Refused because the work order is no longer ours? That is a conflict, not a rejection.
      json fresh;
      if (refresh(o.workOrderId, &fresh, nullptr) && !me.empty() && !assignedTo(fresh, me)) {
        return {a, conflictWith(fresh, "assignment", "the work order was reassigned upstream: " + a.message)};
      }
      return {a, std::nullopt};
    }
    if (a.outcome != Outcome::conflict) return {a, std::nullopt};

    json current = a.details.contains("current") && a.details["current"].is_object() ? a.details["current"] : json();
    std::string freshEtag;
    json fresh;
    if (auto r = refresh(o.workOrderId, &fresh, &freshEtag); r) current = fresh;
    const std::string theirs = str(current, "status");
    // Taken away from this technician: a person decides, even where the move would be legal,
    // unless a person already decided to keep this work on this very assignment.
    if (current.is_object() && !me.empty() && !assignedTo(current, me) && !keptDespite(o.workOrderId, current)) {
      return {a, conflictWith(current, "assignment", "the work order was reassigned upstream: " + a.message)};
    }
    if (current.is_object() && statusMoveAllowed(theirs, yours) && reapply < options_.maxReapplies &&
        !(a.status == 409 && theirs == str(o.payload, "from"))) {
      // The version moved but the move is still legal from where the server is: re-apply on
      // top. A derived key: the first key's 412 had no effect, and the same re-apply after a
      // crash must not take effect twice.
      ifMatch = freshEtag;
      key = o.idempotencyKey + ":r" + std::to_string(reapply + 1);
      log().information("re-applying status %s on work order %s at version %s", yours, o.workOrderId, freshEtag);
      continue;
    }
    return {a, conflictWith(current, "status", a.message)};
  }
}

SendResult Pusher::sendNote(const storage::OutboxOp& o, const json& noteBody) {
  auto wo = store_.workOrders().workOrder(o.workOrderId);
  // The note rides on a move to the status the server has (a no-op the contract allows).
  std::string status = wo ? str(wo->serverDoc, "status") : "";
  std::string key = o.idempotencyKey;
  for (int attempt = 0;; ++attempt) {
    json body = noteBody;
    body["status"] = status;
    auto a = client_.postStatus(o.workOrderId, body, "", key);
    if (a.outcome != Outcome::conflict || attempt >= options_.maxReapplies) return {a, std::nullopt};
    const json current = currentIn(a.details);
    if (str(current, "status").empty() || str(current, "status") == status) return {a, std::nullopt};
    status = str(current, "status");
    key = o.idempotencyKey + ":r" + std::to_string(attempt + 1);
  }
}

SendResult Pusher::sendConsumption(const storage::OutboxOp& o) {
  json request = o.payload.value("request", json::object());
  if (request.contains("customerSignature") && request["customerSignature"].is_object()) {
    const std::string token = str(request["customerSignature"], "signatureToken");
    if (auto att = store_.attachments().attachment(token); att) {
      // A signature captured here: swap the local handle for the upstream upload token.
      if (att->uploadToken.empty() || att->state == storage::AttachmentState::stored ||
          att->state == storage::AttachmentState::uploading) {
        return {waiting("the signature " + token + " is not uploaded yet"), std::nullopt};
      }
      request["customerSignature"]["signatureToken"] = att->uploadToken;
    }
  }
  return {client_.postConsumption(o.workOrderId, request, o.idempotencyKey), std::nullopt};
}

void Pusher::process(const storage::OutboxOp& o, PushReport& report, std::mutex& reportMutex) {
  if (auto taken = store_.outbox().markInFlight(o.id); !taken) return;  // another pusher has it, or it moved on
  auto bump = [&](int PushReport::*field) {
    std::lock_guard lock(reportMutex);
    ++(report.*field);
  };
  bump(&PushReport::sent);
  auto handler = handlers_.find(o.kind);
  if (handler == handlers_.end()) {
    // A kind this build cannot send (an uploader not configured): it waits, it is not lost.
    (void)store_.outbox().markRetryLater(o.id, clock_.now() + tuning::kNoSenderRetry, "no sender for '" + o.kind + "'");
    bump(&PushReport::retried);
    return;
  }
  SendResult result = handler->second(o);
  const Answer<json>& a = result.answer;
  if (result.conflict) {
    if (auto c = store_.outbox().markConflict(o.id, *result.conflict); c) {
      bump(&PushReport::conflicts);
      log().warning("operation %s on work order %s is in conflict: %s", std::to_string(o.id), o.workOrderId,
                    result.conflict->message);
    }
    return;
  }
  const std::string what = a.errorCode.str() + ": " + a.message;
  switch (a.outcome) {
    case Outcome::ok: {
      // Status moves (and the notes riding on them) answer with the updated work order and its
      // new version: the cache takes it, in the same transaction as the operation's move to done.
      const bool answersWorkOrder = o.kind == op::kStatus || o.kind == op::kNote || o.kind == op::kChecklistAnswer;
      std::optional<storage::ServerWorkOrder> fresh;
      if (answersWorkOrder && a.value && a.value->contains("workOrderId")) fresh = storage::ServerWorkOrder{*a.value, a.etag};
      // Later status moves of this work order captured on the same version (offline, before
      // this one was sent) move to the version upstream just answered with: the only change in
      // between is this operation's own, so their If-Match would fail on our own edit and cost a
      // 412 and a re-read each.
      std::optional<std::string> rebaseFrom;
      if (result.appliedOnBase && fresh && !fresh->etag.empty()) rebaseFrom = o.baseVersion;
      (void)store_.outbox().markDone(o.id, a.value.value_or(json()), fresh, rebaseFrom);
      bump(&PushReport::done);
      progress_.operationAccepted();
      break;
    }
    case Outcome::retry:
    case Outcome::reauth: {
      const auto delay = backoff_.delay(o.attempts, a.retryAfter);
      (void)store_.outbox().markRetryLater(o.id, clock_.now() + delay, what);
      bump(&PushReport::retried);
      break;
    }
    case Outcome::blocked:
      // Nothing is wrong with the operation (it is never parked for this): it waits on the slow
      // schedule, or until connectivity returns or a sync is asked for (the agent then makes it due).
      (void)store_.outbox().markRetryLater(o.id, clock_.now() + tuning::kBlockedRetry, what);
      bump(&PushReport::retried);
      break;
    case Outcome::rejected:
      (void)store_.outbox().markRejected(o.id, what);
      bump(&PushReport::rejected);
      log().warning("operation %s on work order %s rejected: %s", std::to_string(o.id), o.workOrderId, what);
      break;
    case Outcome::conflict: {
      storage::NewConflict c{o.kind, {{"version", o.baseVersion}}, currentIn(a.details),
                             o.payload.is_object() ? o.payload.value("request", o.payload) : o.payload, what};
      if (store_.outbox().markConflict(o.id, c)) bump(&PushReport::conflicts);
      break;
    }
  }
}

Result<PushReport> Pusher::drain() {
  stopping_ = false;
  PushReport report;
  std::mutex reportMutex;

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<storage::OutboxOp> queue;
  std::set<std::string> busy;  // work orders with an operation being sent
  bool finished = false;

  std::vector<std::thread> lanes;
  for (int i = 0; i < std::max(1, options_.lanes); ++i) {
    lanes.emplace_back([&] {
      std::unique_lock lock(mutex);
      while (true) {
        changed.wait(lock, [&] { return finished || !queue.empty(); });
        if (queue.empty()) return;
        storage::OutboxOp o = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        process(o, report, reportMutex);
        lock.lock();
        busy.erase(o.workOrderId);
        changed.notify_all();
      }
    });
  }

  Result<void> outcome;
  {
    std::unique_lock lock(mutex);
    while (!stopping_) {
      lock.unlock();
      auto ready = store_.outbox().readyOperations(clock_.now(), options_.readyBatch);
      lock.lock();
      if (!ready) {
        outcome = ready.error();
        break;
      }
      int handedOut = 0;
      for (auto& o : *ready) {
        if (busy.insert(o.workOrderId).second) {
          queue.push_back(std::move(o));
          ++handedOut;
        }
      }
      if (handedOut > 0) changed.notify_all();
      if (handedOut == 0 && busy.empty()) break;  // nothing ready, nothing being sent
      // Wait for a lane to finish a work order (its next operation may now be ready) and for the
      // queue to run low: looking again while lanes still have work queued finds the same
      // operations, and each look costs a query over the live queue, so a look per finished
      // operation made a long drain quadratic (3 ms an operation at 10,000 queued).
      const std::size_t before = busy.size();
      changed.wait(lock, [&] { return (busy.size() < before && queue.size() < lanes.size()) || stopping_; });
    }
    finished = true;
  }
  changed.notify_all();
  for (auto& t : lanes) t.join();
  if (!outcome) return outcome.error();
  return report;
}

}  // namespace fieldagent::sync
