#include "fieldagent/agent/agent.hpp"

#include <algorithm>

#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "fieldagent/sync/totp.hpp"
#include "progress_events.hpp"
#include "sync_loop.hpp"

namespace fieldagent::agent {

namespace {

Error part(const char* what, const Error& e) { return makeError(e.code, std::string(what) + ": " + e.message); }

}  // namespace

Agent::Agent(Config config, platform::Clock& clock, platform::Connectivity& connectivity)
    : config_(std::move(config)), clock_(clock), connectivity_(connectivity) {}

Result<std::unique_ptr<Agent>> Agent::open(const Config& config, platform::Clock& clock,
                                           platform::Connectivity& connectivity, platform::Entropy& entropy,
                                           std::unique_ptr<platform::HttpExchange> exchange) {
  std::unique_ptr<Agent> a(new Agent(config, clock, connectivity));
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
  a->exchange_ = std::move(exchange);
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
  // The puller, pusher and uploader report what they do; it becomes "progress" events.
  a->progress_ = std::make_unique<ProgressEvents>(a->events_, clock);
  a->puller_ = std::make_unique<sync::Puller>(*a->client_, *a->store_, *a->session_, clock, sync::PullOptions{},
                                              *a->progress_);
  a->pusher_ = std::make_unique<sync::Pusher>(*a->client_, *a->store_, *a->session_, clock, entropy,
                                              sync::PushOptions{}, *a->progress_);
  // Photos and signatures go up through the uploader (tus, checksummed, resumable), which holds
  // big uploads while the link is metered.
  sync::UploadSettings uploads;
  uploads.chunkBytes = static_cast<std::size_t>(config.uploadChunkBytes);
  uploads.holdLargeUploadsWhenMetered = config.holdLargeUploadsWhenMetered;
  uploads.largeUploadBytes = config.largeUploadBytes;
  a->uploader_ =
      std::make_unique<sync::Uploader>(*a->client_, *a->store_, clock, &connectivity, uploads, *a->progress_);
  a->uploader_->attachTo(*a->pusher_);
  a->capture_ = std::make_unique<sync::Capture>(*a->store_, *a->session_, clock,
                                                sync::CoverageSettings{config.laborRates, config.currency});
  a->desk_ = std::make_unique<sync::ConflictDesk>(*a->store_);
  a->loop_ = std::make_unique<SyncLoop>(
      SyncLoopParts{clock, connectivity, entropy, *a->store_, *a->secrets_, *a->session_, *a->client_, *a->puller_,
                    *a->pusher_, a->events_, a->metrics_, *a->progress_},
      SyncLoopSettings{config.pullInterval, config.pushInterval, config.slaRiskMargin});
  return a;
}

Agent::~Agent() { stop(); }

void Agent::start() { loop_->start(); }

void Agent::stop() {
  if (loop_) loop_->stop();  // null when open() failed half-way
  events_.close();
}

void Agent::requestSync() { loop_->requestSync(); }

void Agent::localWriteRecorded() { loop_->localWriteRecorded(); }

void Agent::runRound() { loop_->runRound(); }

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
  loop_->wantSignIn();
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
  if (auto counts = store_->outbox().outboxCounts()) {
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
  if (auto open = store_->conflicts().listConflicts(true)) out["openConflicts"] = open->size();
  out.update(loop_->status());
  return out;
}

}  // namespace fieldagent::agent
