#include "sync_loop.hpp"

#include <Poco/Logger.h>

#include <algorithm>

#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/sync/answer.hpp"

namespace fieldagent::agent {

using nlohmann::json;

namespace {

Poco::Logger& log() { return Poco::Logger::get("fieldagent.agent"); }

}  // namespace

SyncLoop::SyncLoop(SyncLoopParts parts, SyncLoopSettings settings)
    : parts_(parts), settings_(settings), wasOnline_(parts.connectivity.current().online) {}

SyncLoop::~SyncLoop() { stop(); }

void SyncLoop::start() {
  if (thread_.joinable()) return;
  SyncLoop* self = this;
  connectivitySubscription_ =
      parts_.connectivity.subscribe([self](const platform::ConnectivityState& s) { self->onConnectivity(s); });
  thread_ = std::thread([this] { loop(); });
}

void SyncLoop::stop() {
  stopping_ = true;
  connectivitySubscription_.reset();
  parts_.pusher.stop();
  wakeup_.notify();
  if (thread_.joinable()) thread_.join();
}

void SyncLoop::requestSync() {
  ++syncRequests_;
  syncRequested_ = true;
  // "Sync now" means now: what is backing off goes in this round, as when coverage returns.
  retryNow_ = true;
  parts_.client.retryNow();
  wakeup_.notify();
}

void SyncLoop::localWriteRecorded() { wakeup_.notify(); }

void SyncLoop::wantSignIn() { signInWanted_ = true; }

void SyncLoop::onConnectivity(const platform::ConnectivityState& state) {
  parts_.events.publish("connectivity", {{"online", state.online}, {"metered", state.metered}, {"interface", state.interface}});
  if (state.online) {
    retryNow_ = true;
    parts_.client.retryNow();  // another network may not intercept TLS
    {
      // A pull that failed (maybe for want of this network) goes at once, not after its back-off.
      std::lock_guard lock(stateMutex_);
      if (pullFailures_ > 0) nextPull_ = parts_.clock.monotonic();
    }
    wakeup_.notify();
  }
}

void SyncLoop::loop() {
  while (!stopping_) {
    runRound();
    if (stopping_) break;
    parts_.clock.waitUntil(nextDeadline(), wakeup_);
  }
}

platform::MonoTime SyncLoop::toMono(platform::WallTime t) const {
  return parts_.clock.monotonic() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - parts_.clock.now());
}

platform::MonoTime SyncLoop::nextDeadline() {
  const auto now = parts_.clock.monotonic();
  platform::MonoTime deadline = now + settings_.pushInterval;
  deadline = std::min(deadline, nextSlaCheck_);
  // A pull or a renewal that is due but cannot run now (offline, signed out, the renewal just
  // failed) must not set the deadline: it stays in the past, and the loop would wake at once,
  // forever. Connectivity coming back or a sign-in wakes the loop; otherwise the push interval
  // bounds the wait.
  const bool canSync = parts_.connectivity.current().online && parts_.session.status().state == sync::SessionState::active;
  {
    std::lock_guard lock(stateMutex_);
    if (nextPull_ && canSync) deadline = std::min(deadline, *nextPull_);
  }
  if (auto renew = parts_.session.renewalDueAt(); renew && *renew > parts_.clock.now()) deadline = std::min(deadline, toMono(*renew));
  storage::OutboxFilter pending;
  pending.state = storage::OpState::pending;
  pending.limit = tuning::kDeadlineScan;
  if (auto ops = parts_.store.outbox().listOperations(pending)) {
    // Only future attempts set a deadline: a due operation behind a backing-off one of its work
    // order is not ready, and counting it would make the loop spin.
    const auto wallNow = parts_.clock.now();
    for (const auto& o : *ops)
      if (!o.held && o.nextAttemptAt > wallNow) deadline = std::min(deadline, toMono(o.nextAttemptAt));
  }
  return std::max(deadline, now);
}

void SyncLoop::ensureSession() {
  auto s = parts_.session.status();
  if (s.state == sync::SessionState::active) {
    if (auto r = parts_.session.renewIfDue(); !r) log().warning("session renewal failed: %s", r.error().message);
    return;
  }
  if (s.state == sync::SessionState::mfaPending) return;
  if (s.state == sync::SessionState::failed && !signInWanted_) return;
  // A session that expired (offline, or its renewal failed for lack of network) is signed in
  // again as soon as the network allows; only a technician who never signed in waits.
  const bool expired = s.state == sync::SessionState::signedOut && s.expiresAt.has_value();
  if (!signInWanted_ && s.state == sync::SessionState::signedOut && !syncRequested_ && !expired) return;
  auto username = parts_.secrets.get(storage::secret::kUsername);
  if (!username || !*username) return;  // nobody signed in yet: POST /agent/credentials
  signInWanted_ = false;
  auto r = parts_.session.signIn();
  if (r) {
    parts_.events.publish("session", {{"state", "active"}, {"user", parts_.session.status().user.id}});
    log().information("signed in as %s", parts_.session.status().user.id);
  } else {
    parts_.events.publish("session", {{"state", sync::toString(parts_.session.status().state)},
                                {"error", r.error().code},
                                {"message", r.error().message}});
    // Blocked (a certificate, pin or TLS problem): again later too; the client holds the attempts
    // to the slow schedule.
    if (r.error().code == "unreachable" ||
        sync::classifyTransportFailure(r.error().code) == sync::Outcome::blocked)
      signInWanted_ = true;
    log().warning("sign-in: %s", r.error().describe());
  }
}

void LastAttempt::succeeded(platform::WallTime when) {
  at = when;
  outcome = "ok";
  error.reset();
}

void LastAttempt::failed(platform::WallTime when, const Error& e) {
  at = when;
  outcome = e.describe();
  error = e.code;
}

json LastAttempt::toJson() const {
  return {{"at", at ? json(platform::formatIso8601(*at)) : json(nullptr)},
          {"outcome", outcome},
          {"error", error ? json(*error) : json(nullptr)}};
}

void SyncLoop::publishFailed(const char* phase, const Error& e) {
  parts_.events.publish("sync", {{"phase", phase}, {"error", e.code}, {"message", e.message}});
}

void SyncLoop::pullIfDue() {
  const auto now = parts_.clock.monotonic();
  {
    std::lock_guard lock(stateMutex_);
    if (!syncRequested_ && nextPull_ && now < *nextPull_) return;
  }
  parts_.events.publish("sync", {{"phase", "pull_started"}});
  parts_.progress.begin("pull");
  auto report = parts_.puller.pull();
  parts_.progress.begin("");
  ++parts_.metrics.pulls;
  std::lock_guard lock(stateMutex_);
  if (report) {
    lastPull_.succeeded(parts_.clock.now());
    roundPull_ = "ok";
    pullFailures_ = 0;
    nextPull_ = now + settings_.pullInterval;
    parts_.events.publish("sync", {{"phase", "pull_done"},
                             {"prime", report->prime},
                             {"workOrdersStored", report->workOrdersStored},
                             {"workOrdersReleased", report->workOrdersReleased},
                             {"referenceDocuments", report->referenceDocuments}});
  } else {
    ++parts_.metrics.pullFailures;
    lastPull_.failed(parts_.clock.now(), report.error());
    roundPull_ = lastPull_.outcome;
    const auto transient = pullRetryDelay(++pullFailures_);
    // A permanent failure (certificate, pin, TLS version) waits on the slow schedule instead,
    // counted from now: the client holds the origin blocked that long from the failure on.
    nextPull_ = sync::classifyTransportFailure(report.error().code) == sync::Outcome::blocked
                    ? parts_.clock.monotonic() + sync::tuning::kBlockedRetry
                    : now + transient;
    publishFailed("pull_failed", report.error());
  }
}

// How long to wait after the `failures`-th failed pull in a row: 30 s, then doubling up to the
// pull interval, each drawn between half and all of that (equal jitter), so a fleet of
// devices that lost the same upstream does not come back in step, and a device in a long
// partition (online, upstream unreachable) stops asking twice a minute.
std::chrono::milliseconds SyncLoop::pullRetryDelay(int failures) {
  const sync::Backoff backoff(parts_.entropy, tuning::kPullRetry,
                              std::chrono::duration_cast<std::chrono::milliseconds>(settings_.pullInterval),
                              sync::Jitter::equal);
  return backoff.delay(failures - 1);
}

// Makes the operations in `state` due now (pending ones only when their attempt lies ahead),
// keeping their idempotency keys; `reason` replaces their last error when given.
void SyncLoop::makeDueNow(storage::OpState state, const std::string& reason) {
  storage::OutboxFilter filter;
  filter.state = state;
  filter.limit = tuning::kDueNowSweep;
  auto ops = parts_.store.outbox().listOperations(filter);
  if (!ops) return;
  const auto now = parts_.clock.now();
  for (const auto& o : *ops)
    if (state != storage::OpState::pending || o.nextAttemptAt > now)
      (void)parts_.store.outbox().markRetryLater(o.id, now, reason.empty() ? o.lastError : reason);
}

void SyncLoop::push() {
  // Connectivity came back, or someone asked for a sync: what was backing off goes now, not
  // when its timer says.
  if (retryNow_.exchange(false)) makeDueNow(storage::OpState::pending, "");
  auto counts = parts_.store.outbox().outboxCounts();
  if (counts && counts->byState[storage::OpState::in_flight] > 0) {
    // Between drains nothing is being sent: an operation still in flight was sent, but its
    // answer could not be recorded (the disk was full). It goes again with its idempotency key,
    // as after a restart; left alone it would hold up its work order until the next start.
    makeDueNow(storage::OpState::in_flight, "sent, but its answer could not be recorded; sending again");
    counts = parts_.store.outbox().outboxCounts();
  }
  if (!counts || counts->byState[storage::OpState::pending] == 0) return;
  if (auto ready = parts_.store.outbox().readyOperations(parts_.clock.now(), 1); !ready || ready->empty()) return;
  parts_.events.publish("sync", {{"phase", "push_started"}, {"pending", counts->byState[storage::OpState::pending]}});
  parts_.progress.begin("push");
  auto report = parts_.pusher.drain();
  parts_.progress.begin("");
  ++parts_.metrics.drains;
  std::lock_guard lock(stateMutex_);
  if (report) {
    parts_.metrics.opsDone += static_cast<std::uint64_t>(report->done);
    parts_.metrics.opsRetried += static_cast<std::uint64_t>(report->retried);
    parts_.metrics.opsRejected += static_cast<std::uint64_t>(report->rejected);
    parts_.metrics.opsConflicts += static_cast<std::uint64_t>(report->conflicts);
    lastPush_.succeeded(parts_.clock.now());
    roundPush_ = report->retried > 0 ? "retry: " + std::to_string(report->retried) + " operations wait for another attempt"
                                     : "ok";
    parts_.events.publish("sync", {{"phase", "push_done"},
                             {"sent", report->sent},
                             {"done", report->done},
                             {"retried", report->retried},
                             {"rejected", report->rejected},
                             {"conflicts", report->conflicts}});
  } else {
    lastPush_.failed(parts_.clock.now(), report.error());
    roundPush_ = lastPush_.outcome;
    publishFailed("push_failed", report.error());
  }
}

void SyncLoop::announceParked() {
  if (auto conflicts = parts_.store.conflicts().listConflicts(true)) {
    for (const auto& c : *conflicts) {
      if (!conflictsAnnounced_.insert(c.id).second) continue;
      parts_.events.publish("conflict", {{"conflictId", c.id},
                                   {"operationId", c.operationId},
                                   {"workOrderId", c.workOrderId},
                                   {"field", c.field},
                                   {"message", c.message}});
    }
  }
  storage::OutboxFilter rejected;
  rejected.state = storage::OpState::rejected;
  rejected.limit = tuning::kRejectedScan;
  if (auto ops = parts_.store.outbox().listOperations(rejected)) {
    for (const auto& o : *ops) {
      if (!rejectionsAnnounced_.insert(o.id).second) continue;
      parts_.events.publish("rejected", {{"operationId", o.id},
                                   {"workOrderId", o.workOrderId},
                                   {"kind", o.kind},
                                   {"message", o.lastError}});
    }
  }
}

void SyncLoop::checkSla() {
  const auto mono = parts_.clock.monotonic();
  if (mono < nextSlaCheck_) return;
  nextSlaCheck_ = mono + tuning::kSlaCheckEvery;
  const auto now = parts_.clock.now();
  storage::WorkOrderQuery q;
  q.slaDueTo = now + settings_.slaRiskMargin;
  q.sort = storage::WorkOrderSort::slaDueAt;
  q.pageSize = tuning::kSlaPageSize;
  for (q.page = 1;; ++q.page) {
    auto page = parts_.store.workOrders().listWorkOrders(q);
    if (!page) return;
    for (const auto& wo : page->items) {
      const std::string status = wo.doc.value("status", "");
      if (status == "completed" || status == "cancelled") continue;
      platform::WallTime due;
      if (!wo.doc.contains("slaDueAt") || !wo.doc["slaDueAt"].is_string() ||
          !platform::parseIso8601(wo.doc["slaDueAt"].get<std::string>(), due))
        continue;
      const std::string key = wo.workOrderId + "@" + wo.doc["slaDueAt"].get<std::string>();
      if (!slaAnnounced_.insert(key).second) continue;
      ++parts_.metrics.slaAtRisk;
      parts_.events.publish("sla_at_risk",
                      {{"workOrderId", wo.workOrderId},
                       {"status", status},
                       {"slaDueAt", wo.doc["slaDueAt"]},
                       {"minutesLeft", std::chrono::duration_cast<std::chrono::minutes>(due - now).count()}});
    }
    if (static_cast<std::int64_t>(q.page) * q.pageSize >= page->total) break;
  }
}

void SyncLoop::runRound() {
  // The sync requests this round serves: those made before its pull and push begin. One made
  // while they run keeps syncRequested_ set for the next round.
  std::uint64_t serving = syncRequests_.load();
  bool requested = serving > syncServed_.load();
  if (requested) parts_.events.publish("sync", {{"phase", "round_started"}, {"serving", serving}});
  {
    std::lock_guard lock(stateMutex_);
    roundPull_.clear();
    roundPush_.clear();
  }
  const auto state = parts_.connectivity.current();
  if (state.online != wasOnline_) {
    wasOnline_ = state.online;
    if (state.online) retryNow_ = true;
  }
  // The SLA clock is the device's: it runs offline too.
  checkSla();
  if (!state.online) {
    syncRequested_ = syncRequests_.load() != serving;
    if (requested) roundDone(serving, false);
    return;
  }
  ensureSession();
  // A request made while the session was being signed in (POST /agent/credentials arriving as a
  // round starts) is served by this round's pull; counting it for the next round would pull
  // twice in a row.
  if (const auto now = syncRequests_.load(); now != serving) {
    serving = now;
    if (!requested) parts_.events.publish("sync", {{"phase", "round_started"}, {"serving", serving}});
    requested = true;
  }
  if (parts_.session.status().state == sync::SessionState::active) {
    pullIfDue();
    push();
    syncRequested_ = syncRequests_.load() != serving;
  }
  announceParked();
  if (requested) roundDone(serving, true);
  std::lock_guard lock(stateMutex_);
  storage::SyncRun run{parts_.clock.now(), parts_.clock.now(), lastPush_.outcome.empty() ? lastPull_.outcome : lastPush_.outcome,
                       "pull: " + lastPull_.outcome + "; push: " + lastPush_.outcome};
  if (!lastPull_.outcome.empty()) (void)parts_.store.syncState().recordSyncRun(run);
}

// Tells whoever asked for the round (fieldagent sync, an app) how it went.
void SyncLoop::roundDone(std::uint64_t served, bool online) {
  const auto s = parts_.session.status();
  json data = {{"phase", "round_done"},
               {"served", served},
               {"online", online},
               {"session", sync::toString(s.state)}};
  if (!s.lastError.empty()) data["sessionError"] = s.lastError;
  {
    std::lock_guard lock(stateMutex_);
    data["pull"] = roundPull_.empty() ? json(nullptr) : json(roundPull_);
    data["push"] = roundPush_.empty() ? json(nullptr) : json(roundPush_);
  }
  if (auto counts = parts_.store.outbox().outboxCounts()) {
    data["pending"] = counts->byState[storage::OpState::pending];
    data["rejected"] = counts->byState[storage::OpState::rejected];
    data["conflict"] = counts->byState[storage::OpState::conflict];
  }
  if (auto open = parts_.store.conflicts().listConflicts(true)) data["openConflicts"] = open->size();
  syncServed_ = served;
  parts_.events.publish("sync", std::move(data));
}


json SyncLoop::status() {
  json out = {{"sync", {{"requested", syncRequests_.load()}, {"served", syncServed_.load()}}}};
  std::lock_guard lock(stateMutex_);
  out["lastPull"] = lastPull_.toJson();
  out["lastPush"] = lastPush_.toJson();
  return out;
}

}  // namespace fieldagent::agent
