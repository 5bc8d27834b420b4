#include "fieldagent/agent/agent.hpp"

#include <Poco/Logger.h>

#include <algorithm>

#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "fieldagent/sync/answer.hpp"
#include "fieldagent/sync/totp.hpp"

namespace fieldagent::agent {

using namespace std::chrono_literals;

namespace {

Poco::Logger& log() { return Poco::Logger::get("fieldagent.agent"); }

Error part(const char* what, const Error& e) { return makeError(e.code, std::string(what) + ": " + e.message); }

// How often the SLA clock is looked at when nothing else wakes the loop: a minute is well inside
// any margin a dispatcher sets and costs one indexed query.
constexpr auto kSlaCheckEvery = 60s;
// After a failed pull, try again this soon rather than after the full interval; each further
// failure in a row doubles it, up to the pull interval.
constexpr auto kPullRetry = 30s;

}  // namespace

// Sits between the upstream client and the real exchange and turns the calls of a pull or push
// into "sync" events with phase "progress" (work-order pages read of those the first page
// announced, work orders and reference documents read, operations sent, upload bytes), so a
// terminal can draw a progress bar without the sync layer knowing about it. At most one event
// per kProgressEvery, plus one for every work-order page, operation and upload chunk.
class ProgressMeter final : public platform::HttpExchange {
 public:
  ProgressMeter(std::unique_ptr<platform::HttpExchange> inner, EventBus& events, platform::Clock& clock)
      : inner_(std::move(inner)), events_(events), clock_(clock) {}

  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    auto answer = inner_->exchange(request);
    if (answer && answer->status < 400) note(request, *answer);
    return answer;
  }

  // A pull or push starts ("pull", "push"): counts from zero. An empty phase stops the events.
  void begin(const std::string& phase) {
    std::lock_guard lock(mutex_);
    phase_ = phase;
    counts_ = json{{"pages", 0},      {"pagesTotal", 0}, {"workOrders", 0},      {"reference", 0},
                   {"operations", 0}, {"uploadedBytes", 0}, {"uploadBytesTotal", 0}};
  }

 private:
  static constexpr auto kProgressEvery = std::chrono::milliseconds(250);

  void note(const platform::HttpRequest& request, const platform::HttpResponse& response) {
    auto split = platform::splitUrl(request.url);
    if (!split) return;
    std::string path = split->second.substr(0, split->second.find('?'));
    std::lock_guard lock(mutex_);
    if (phase_.empty()) return;
    bool always = false;
    const auto at = path.rfind("/work-orders");
    const std::string rest = at == std::string::npos ? std::string() : path.substr(at + 12);
    const auto add = [&](const char* key, std::int64_t n) { counts_[key] = counts_[key].get<std::int64_t>() + n; };
    if (request.method == "GET" && at != std::string::npos && rest.empty()) {
      add("pages", 1);
      const auto read = counts_["pages"].get<std::int64_t>();
      // The first page announces how many there are; a window read again (its total moved)
      // counts its pages on top of those read before. Only those pages are parsed twice.
      if (read == 1 || counts_["pagesTotal"].get<std::int64_t>() < read) {
        const json page = json::parse(response.body, nullptr, false);
        if (page.is_object() && page.contains("total") && page["total"].is_number_integer()) {
          const auto total = page["total"].get<std::int64_t>();
          const auto size = std::max<std::int64_t>(1, page.value("pageSize", std::int64_t{1}));
          counts_["pagesTotal"] = read - 1 + std::max<std::int64_t>(1, (total + size - 1) / size);
        }
      }
      always = true;
    } else if (request.method == "GET" && at != std::string::npos && rest.size() > 1 &&
               rest.find('/', 1) == std::string::npos) {
      add("workOrders", 1);
    } else if (request.method == "GET") {
      add("reference", 1);
    } else if (request.method == "POST" && at != std::string::npos) {
      // status, consumptions, assignments, attachments: one operation each; not the upload's
      // own follow-ups (upload-url, complete).
      const auto slash = rest.find('/', 1);
      const std::string what = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
      if (what == "status" || what == "consumptions" || what == "assignments" || what == "attachments") {
        add("operations", 1);
        always = true;
        if (what == "attachments") {
          const json body = json::parse(request.body, nullptr, false);
          if (body.is_object() && body.contains("sizeBytes") && body["sizeBytes"].is_number_integer())
            add("uploadBytesTotal", body["sizeBytes"].get<std::int64_t>());
        }
      }
    } else if (request.method == "PATCH" && at == std::string::npos) {
      add("uploadedBytes", static_cast<std::int64_t>(request.body.size()));  // a tus chunk
      always = true;
    }
    const auto now = clock_.monotonic();
    if (!always && now - lastEvent_ < kProgressEvery) return;
    lastEvent_ = now;
    json data = counts_;
    data["phase"] = "progress";
    data["step"] = phase_;
    events_.publish("sync", std::move(data));
  }

  std::unique_ptr<platform::HttpExchange> inner_;
  EventBus& events_;
  platform::Clock& clock_;
  std::mutex mutex_;
  std::string phase_;
  json counts_ = json::object();
  platform::MonoTime lastEvent_{};
};

Agent::Agent(Config config, platform::Clock& clock, platform::Connectivity& connectivity,
             platform::Entropy& entropy)
    : config_(std::move(config)), clock_(clock), connectivity_(connectivity), entropy_(entropy) {}

Result<std::unique_ptr<Agent>> Agent::open(const Config& config, platform::Clock& clock,
                                           platform::Connectivity& connectivity, platform::Entropy& entropy,
                                           std::unique_ptr<platform::HttpExchange> exchange) {
  std::unique_ptr<Agent> a(new Agent(config, clock, connectivity, entropy));
  if (auto made = platform::fs::ensureDir(config.dataDir, 0700); !made) return part("dataDir", made.error());
  a->keys_ = std::make_unique<platform::FileKeyStore>(config.dataDir / "keys" / "data.key", entropy);
  storage::StoreOptions options{config.dataDir, config.attachmentQuotaBytes,
                                config.durability == "normal" ? storage::Durability::normal
                                                              : storage::Durability::full};
  auto store = storage::Store::open(options, clock, entropy, *a->keys_);
  if (!store) return part("store", store.error());
  a->store_ = std::move(store).value();
  auto secrets = storage::SecretStore::open(config.dataDir / "secrets.bin", *a->keys_, entropy);
  if (!secrets) return part("secrets", secrets.error());
  a->secrets_ = std::move(secrets).value();

  if (!exchange) {
    auto base = platform::parseBaseUrl(config.upstreamBaseUrl);
    if (!base) return part("upstream.baseUrl", base.error());
    platform::TlsOptions tls;
    if (!config.tlsCaBundle.empty()) tls.caBundleFile = config.tlsCaBundle;
    for (auto pin : config.tlsPins) {
      if (pin.rfind("sha256/", 0) == 0) pin = pin.substr(7);
      tls.pinnedPublicKeys.push_back(pin);
    }
    auto transport = std::make_shared<const platform::HttpTransport>(tls);
    if (base->secure()) {
      if (auto trust = transport->loadTrust(); !trust) return part("tls", trust.error());
    }
    exchange = std::make_unique<platform::PocoHttpExchange>(platform::HttpOptions{},
                                                            platform::sessionFactory(transport));
  }
  auto meter = std::make_unique<ProgressMeter>(std::move(exchange), a->events_, clock);
  a->progress_ = meter.get();
  a->exchange_ = std::move(meter);
  std::string integrationToken = config.upstreamIntegrationToken;
  if (integrationToken.empty()) {
    if (auto stored = a->secrets_->get(storage::secret::kIntegrationToken); stored && *stored)
      integrationToken = **stored;
  }
  a->client_ = std::make_unique<sync::UpstreamClient>(sync::UpstreamConfig{config.upstreamBaseUrl, integrationToken},
                                                      *a->exchange_, clock);
  a->session_ = std::make_unique<sync::SessionManager>(
      *a->client_, *a->secrets_, clock,
      sync::SessionSettings{config.tenant, config.mfaMethod == "none" ? "" : config.mfaMethod});
  a->client_->setTokenSource(a->session_.get());
  a->session_->restore();
  a->puller_ = std::make_unique<sync::Puller>(*a->client_, *a->store_, *a->session_, clock);
  a->pusher_ = std::make_unique<sync::Pusher>(*a->client_, *a->store_, *a->session_, clock, entropy);
  // Photos and signatures go up through the uploader (tus, checksummed, resumable), which holds
  // big uploads while the link is metered.
  a->uploader_ = std::make_unique<sync::Uploader>(*a->client_, *a->store_, clock, &connectivity);
  a->uploader_->attachTo(*a->pusher_);
  a->capture_ = std::make_unique<sync::Capture>(*a->store_, *a->session_, clock,
                                                sync::CoverageSettings{config.laborRates, config.currency});
  a->desk_ = std::make_unique<sync::ConflictDesk>(*a->store_);
  a->wasOnline_ = connectivity.current().online;
  return a;
}

Agent::~Agent() { stop(); }

void Agent::start() {
  if (thread_.joinable()) return;
  Agent* self = this;
  connectivitySubscription_ =
      connectivity_.subscribe([self](const platform::ConnectivityState& s) { self->onConnectivity(s); });
  thread_ = std::thread([this] { loop(); });
}

void Agent::stop() {
  stopping_ = true;
  connectivitySubscription_.reset();
  pusher_->stop();
  wakeup_.notify();
  if (thread_.joinable()) thread_.join();
  events_.close();
}

void Agent::requestSync() {
  ++syncRequests_;
  syncRequested_ = true;
  // "Sync now" means now: what is backing off goes in this round, as when coverage returns.
  retryNow_ = true;
  wakeup_.notify();
}

void Agent::localWriteRecorded() { wakeup_.notify(); }

void Agent::onConnectivity(const platform::ConnectivityState& state) {
  events_.publish("connectivity", {{"online", state.online}, {"metered", state.metered}, {"interface", state.interface}});
  if (state.online) {
    retryNow_ = true;
    {
      // A pull that failed (maybe for want of this network) goes at once, not after its back-off.
      std::lock_guard lock(stateMutex_);
      if (pullFailures_ > 0) nextPull_ = clock_.monotonic();
    }
    wakeup_.notify();
  }
}

Result<void> Agent::storeCredentials(const std::string& username, const std::string& password,
                                     const std::string& totpSecret) {
  if (!totpSecret.empty()) {
    if (auto parsed = sync::parseTotpSecret(totpSecret); !parsed)
      return makeError("invalid", "totpSecret: " + parsed.error().message);
  }
  if (auto r = secrets_->put(storage::secret::kUsername, username); !r) return r;
  if (auto r = secrets_->put(storage::secret::kPassword, password); !r) return r;
  if (!totpSecret.empty()) {
    if (auto r = secrets_->put(storage::secret::kTotpSecret, totpSecret); !r) return r;
  }
  session_->signOut();
  signInWanted_ = true;
  requestSync();
  return {};
}

Result<void> Agent::answerMfa(const std::string& code) {
  auto r = session_->answerChallenge(code);
  if (r) {
    events_.publish("session", {{"state", "active"}});
    requestSync();
  }
  return r;
}

void Agent::loop() {
  while (!stopping_) {
    runRound();
    if (stopping_) break;
    clock_.waitUntil(nextDeadline(), wakeup_);
  }
}

platform::MonoTime Agent::toMono(platform::WallTime t) const {
  return clock_.monotonic() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - clock_.now());
}

platform::MonoTime Agent::nextDeadline() {
  const auto now = clock_.monotonic();
  platform::MonoTime deadline = now + config_.pushInterval;
  deadline = std::min(deadline, nextSlaCheck_);
  // A pull or a renewal that is due but cannot run now (offline, signed out, the renewal just
  // failed) must not set the deadline: it stays in the past, and the loop would wake at once,
  // forever. Connectivity coming back or a sign-in wakes the loop; otherwise the push interval
  // bounds the wait.
  const bool canSync = connectivity_.current().online && session_->status().state == sync::SessionState::active;
  {
    std::lock_guard lock(stateMutex_);
    if (nextPull_ && canSync) deadline = std::min(deadline, *nextPull_);
  }
  if (auto renew = session_->renewalDueAt(); renew && *renew > clock_.now()) deadline = std::min(deadline, toMono(*renew));
  storage::OutboxFilter pending;
  pending.state = storage::OpState::pending;
  pending.limit = 200;
  if (auto ops = store_->listOperations(pending)) {
    // Only future attempts set a deadline: a due operation behind a backing-off one of its work
    // order is not ready, and counting it would make the loop spin.
    const auto wallNow = clock_.now();
    for (const auto& o : *ops)
      if (!o.held && o.nextAttemptAt > wallNow) deadline = std::min(deadline, toMono(o.nextAttemptAt));
  }
  return std::max(deadline, now);
}

void Agent::ensureSession() {
  auto s = session_->status();
  if (s.state == sync::SessionState::active) {
    if (auto r = session_->renewIfDue(); !r) log().warning("session renewal failed: %s", r.error().message);
    return;
  }
  if (s.state == sync::SessionState::mfaPending) return;
  if (s.state == sync::SessionState::failed && !signInWanted_) return;
  // A session that expired (offline, or its renewal failed for lack of network) is signed in
  // again as soon as the network allows; only a technician who never signed in waits.
  const bool expired = s.state == sync::SessionState::signedOut && s.expiresAt.has_value();
  if (!signInWanted_ && s.state == sync::SessionState::signedOut && !syncRequested_ && !expired) return;
  auto username = secrets_->get(storage::secret::kUsername);
  if (!username || !*username) return;  // nobody signed in yet: POST /agent/credentials
  signInWanted_ = false;
  auto r = session_->signIn();
  if (r) {
    events_.publish("session", {{"state", "active"}, {"user", session_->status().user.id}});
    log().information("signed in as %s", session_->status().user.id);
  } else {
    events_.publish("session", {{"state", sync::toString(session_->status().state)},
                                {"error", r.error().code},
                                {"message", r.error().message}});
    if (r.error().code == "unreachable") signInWanted_ = true;
    log().warning("sign-in: %s: %s", r.error().code, r.error().message);
  }
}

void Agent::pullIfDue() {
  const auto now = clock_.monotonic();
  {
    std::lock_guard lock(stateMutex_);
    if (!syncRequested_ && nextPull_ && now < *nextPull_) return;
  }
  events_.publish("sync", {{"phase", "pull_started"}});
  progress_->begin("pull");
  auto report = puller_->pull();
  progress_->begin("");
  ++metrics_.pulls;
  std::lock_guard lock(stateMutex_);
  lastPullAt_ = clock_.now();
  if (report) {
    lastPullOutcome_ = "ok";
    roundPull_ = "ok";
    pullFailures_ = 0;
    nextPull_ = now + config_.pullInterval;
    events_.publish("sync", {{"phase", "pull_done"},
                             {"prime", report->prime},
                             {"workOrdersStored", report->workOrdersStored},
                             {"workOrdersReleased", report->workOrdersReleased},
                             {"referenceDocuments", report->referenceDocuments}});
  } else {
    ++metrics_.pullFailures;
    lastPullOutcome_ = report.error().code + ": " + report.error().message;
    roundPull_ = lastPullOutcome_;
    nextPull_ = now + pullRetryDelay(++pullFailures_);
    events_.publish("sync", {{"phase", "pull_failed"}, {"error", report.error().code}, {"message", report.error().message}});
  }
}

// How long to wait after the `failures`-th failed pull in a row: 30 s, then doubling up to the
// pull interval, each drawn between half and all of that (equal jitter), so a fleet of
// devices that lost the same upstream does not come back in step, and a device in a long
// partition (online, upstream unreachable) stops asking twice a minute.
std::chrono::milliseconds Agent::pullRetryDelay(int failures) {
  const sync::Backoff backoff(entropy_, kPullRetry,
                              std::chrono::duration_cast<std::chrono::milliseconds>(config_.pullInterval),
                              sync::Jitter::equal);
  return backoff.delay(failures - 1);
}

// Makes the operations in `state` due now (pending ones only when their attempt lies ahead),
// keeping their idempotency keys; `reason` replaces their last error when given.
void Agent::makeDueNow(storage::OpState state, const std::string& reason) {
  storage::OutboxFilter filter;
  filter.state = state;
  filter.limit = 1000;
  auto ops = store_->listOperations(filter);
  if (!ops) return;
  const auto now = clock_.now();
  for (const auto& o : *ops)
    if (state != storage::OpState::pending || o.nextAttemptAt > now)
      (void)store_->markRetryLater(o.id, now, reason.empty() ? o.lastError : reason);
}

void Agent::push() {
  // Connectivity came back, or someone asked for a sync: what was backing off goes now, not
  // when its timer says.
  if (retryNow_.exchange(false)) makeDueNow(storage::OpState::pending, "");
  auto counts = store_->outboxCounts();
  if (counts && counts->byState[storage::OpState::in_flight] > 0) {
    // Between drains nothing is being sent: an operation still in flight was sent, but its
    // answer could not be recorded (the disk was full). It goes again with its idempotency key,
    // as after a restart; left alone it would hold up its work order until the next start.
    makeDueNow(storage::OpState::in_flight, "sent, but its answer could not be recorded; sending again");
    counts = store_->outboxCounts();
  }
  if (!counts || counts->byState[storage::OpState::pending] == 0) return;
  if (auto ready = store_->readyOperations(clock_.now(), 1); !ready || ready->empty()) return;
  events_.publish("sync", {{"phase", "push_started"}, {"pending", counts->byState[storage::OpState::pending]}});
  progress_->begin("push");
  auto report = pusher_->drain();
  progress_->begin("");
  ++metrics_.drains;
  std::lock_guard lock(stateMutex_);
  lastPushAt_ = clock_.now();
  if (report) {
    metrics_.opsDone += static_cast<std::uint64_t>(report->done);
    metrics_.opsRetried += static_cast<std::uint64_t>(report->retried);
    metrics_.opsRejected += static_cast<std::uint64_t>(report->rejected);
    metrics_.opsConflicts += static_cast<std::uint64_t>(report->conflicts);
    lastPushOutcome_ = "ok";
    roundPush_ = report->retried > 0 ? "retry: " + std::to_string(report->retried) + " operations wait for another attempt"
                                     : "ok";
    events_.publish("sync", {{"phase", "push_done"},
                             {"sent", report->sent},
                             {"done", report->done},
                             {"retried", report->retried},
                             {"rejected", report->rejected},
                             {"conflicts", report->conflicts}});
  } else {
    lastPushOutcome_ = report.error().code + ": " + report.error().message;
    roundPush_ = lastPushOutcome_;
    events_.publish("sync", {{"phase", "push_failed"}, {"error", report.error().code}, {"message", report.error().message}});
  }
}

void Agent::announceParked() {
  if (auto conflicts = store_->listConflicts(true)) {
    for (const auto& c : *conflicts) {
      if (!conflictsAnnounced_.insert(c.id).second) continue;
      events_.publish("conflict", {{"conflictId", c.id},
                                   {"operationId", c.operationId},
                                   {"workOrderId", c.workOrderId},
                                   {"field", c.field},
                                   {"message", c.message}});
    }
  }
  storage::OutboxFilter rejected;
  rejected.state = storage::OpState::rejected;
  rejected.limit = 500;
  if (auto ops = store_->listOperations(rejected)) {
    for (const auto& o : *ops) {
      if (!rejectionsAnnounced_.insert(o.id).second) continue;
      events_.publish("rejected", {{"operationId", o.id},
                                   {"workOrderId", o.workOrderId},
                                   {"kind", o.kind},
                                   {"message", o.lastError}});
    }
  }
}

void Agent::checkSla() {
  const auto mono = clock_.monotonic();
  if (mono < nextSlaCheck_) return;
  nextSlaCheck_ = mono + kSlaCheckEvery;
  const auto now = clock_.now();
  storage::WorkOrderQuery q;
  q.slaDueTo = now + config_.slaRiskMargin;
  q.sort = storage::WorkOrderSort::slaDueAt;
  q.pageSize = 200;
  for (q.page = 1;; ++q.page) {
    auto page = store_->listWorkOrders(q);
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
      ++metrics_.slaAtRisk;
      events_.publish("sla_at_risk",
                      {{"workOrderId", wo.workOrderId},
                       {"status", status},
                       {"slaDueAt", wo.doc["slaDueAt"]},
                       {"minutesLeft", std::chrono::duration_cast<std::chrono::minutes>(due - now).count()}});
    }
    if (static_cast<std::int64_t>(q.page) * q.pageSize >= page->total) break;
  }
}

void Agent::runRound() {
  // The sync requests this round serves: those made before it started. One made while it runs
  // keeps syncRequested_ set for the next round.
  const std::uint64_t serving = syncRequests_.load();
  const bool requested = serving > syncServed_.load();
  if (requested) events_.publish("sync", {{"phase", "round_started"}, {"serving", serving}});
  {
    std::lock_guard lock(stateMutex_);
    roundPull_.clear();
    roundPush_.clear();
  }
  const auto state = connectivity_.current();
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
  if (session_->status().state == sync::SessionState::active) {
    pullIfDue();
    push();
    syncRequested_ = syncRequests_.load() != serving;
  }
  announceParked();
  if (requested) roundDone(serving, true);
  std::lock_guard lock(stateMutex_);
  storage::SyncRun run{clock_.now(), clock_.now(), lastPushOutcome_.empty() ? lastPullOutcome_ : lastPushOutcome_,
                       "pull: " + lastPullOutcome_ + "; push: " + lastPushOutcome_};
  if (!lastPullOutcome_.empty()) (void)store_->recordSyncRun(run);
}

// Tells whoever asked for the round (fieldagent sync, an app) how it went.
void Agent::roundDone(std::uint64_t served, bool online) {
  const auto s = session_->status();
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
  if (auto counts = store_->outboxCounts()) {
    data["pending"] = counts->byState[storage::OpState::pending];
    data["rejected"] = counts->byState[storage::OpState::rejected];
    data["conflict"] = counts->byState[storage::OpState::conflict];
  }
  if (auto open = store_->listConflicts(true)) data["openConflicts"] = open->size();
  syncServed_ = served;
  events_.publish("sync", std::move(data));
}

LocalApiContext Agent::localApiContext() {
  return LocalApiContext{*this,
                         *store_,
                         *capture_,
                         *desk_,
                         *session_,
                         events_,
                         metrics_,
                         clock_,
                         writeMutex_,
                         LocalApiSettings{config_.localApiBind, config_.localApiPort, config_.localApiMaxConnections,
                                          config_.attachmentMaxBytes, config_.dataDir}};
}

json Agent::status() {
  auto s = session_->status();
  json session = {{"state", sync::toString(s.state)},
                  {"userId", s.user.id},
                  {"technicianId", s.user.technicianId},
                  {"entitlements", s.user.entitlements},
                  {"mfaMethod", s.mfaMethod}};
  if (s.expiresAt) session["expiresAt"] = platform::formatIso8601(*s.expiresAt);
  if (!s.deliveredTo.empty()) session["deliveredTo"] = s.deliveredTo;
  if (!s.lastError.empty()) session["lastError"] = s.lastError;
  auto c = connectivity_.current();
  json out = {{"session", session},
              {"connectivity", {{"online", c.online}, {"metered", c.metered}, {"interface", c.interface}}}};
  json queue = json::object();
  if (auto counts = store_->outboxCounts()) {
    for (const auto& [st, n] : counts->byState) queue[std::string(storage::toString(st))] = n;
    queue["held"] = counts->held;
    if (counts->oldestPendingCreatedAt) {
      queue["oldestPendingAt"] = platform::formatIso8601(*counts->oldestPendingCreatedAt);
      queue["oldestPendingAgeSeconds"] =
          std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - *counts->oldestPendingCreatedAt).count();
    } else {
      queue["oldestPendingAgeSeconds"] = nullptr;
    }
  }
  out["outbox"] = queue;
  out["sync"] = {{"requested", syncRequests_.load()}, {"served", syncServed_.load()}};
  if (auto open = store_->listConflicts(true)) out["openConflicts"] = open->size();
  std::lock_guard lock(stateMutex_);
  out["lastPull"] = {{"at", lastPullAt_ ? json(platform::formatIso8601(*lastPullAt_)) : json(nullptr)},
                     {"outcome", lastPullOutcome_}};
  out["lastPush"] = {{"at", lastPushAt_ ? json(platform::formatIso8601(*lastPushAt_)) : json(nullptr)},
                     {"outcome", lastPushOutcome_}};
  return out;
}

}  // namespace fieldagent::agent
