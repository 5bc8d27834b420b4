#pragma once
// The composition root: the store, the secrets, the upstream client, the session, puller,
// pusher, capture and conflict desk, wired from a Config, and the sync loop that keeps them
// moving: it waits on the clock (never sleeps in a loop) until the next pull, renewal, retry
// or SLA check is due, or until a local write, POST /agent/sync, or connectivity coming back
// wakes it.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "fieldagent/agent/config.hpp"
#include "fieldagent/agent/events.hpp"
#include "fieldagent/agent/local_api_context.hpp"
#include "fieldagent/agent/metrics.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/conflicts.hpp"
#include "fieldagent/sync/puller.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/uploader.hpp"
#include "fieldagent/sync/upstream_client.hpp"

namespace fieldagent::agent {

using nlohmann::json;

// Counts upstream calls of a sync round for the "progress" events (agent.cpp).
class ProgressMeter;

class Agent final : public AgentControl {
 public:
  // Opens everything the config names. Errors carry the failing part ("store: ...", "secrets:
  // ...", "tls: ..."). `exchange` replaces the HTTP exchange (tests); null builds the real one.
  static Result<std::unique_ptr<Agent>> open(const Config& config, platform::Clock& clock,
                                             platform::Connectivity& connectivity, platform::Entropy& entropy,
                                             std::unique_ptr<platform::HttpExchange> exchange = nullptr);
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts / stops the sync loop thread. stop() lets the operation being sent finish (the store
  // puts anything left in flight back to pending at the next open).
  void start();
  void stop();

  // Wakes the sync loop: pull and push now. Requests are numbered (status()["sync"]
  // ["requested"]); the round that serves one publishes a "sync" event with phase "round_done"
  // and "served" at least that number.
  void requestSync() override;
  // Wakes the sync loop to push what a local write just queued.
  void localWriteRecorded() override;

  // Stores the technician's credentials in the secret store and signs in (in the sync loop).
  Result<void> storeCredentials(const std::string& username, const std::string& password,
                                const std::string& totpSecret) override;
  Result<void> answerMfa(const std::string& code) override;

  json status() override;
  // One sync round now, on the caller's thread (tests; the loop calls it too).
  void runRound();

  // What the local API is given: the parts it reads and writes through, and this agent as its
  // AgentControl.
  LocalApiContext localApiContext();

  const Config& config() const { return config_; }
  storage::Store& store() { return *store_; }
  sync::SessionManager& session() { return *session_; }
  sync::Capture& capture() { return *capture_; }
  sync::ConflictDesk& conflictDesk() { return *desk_; }
  sync::Pusher& pusher() { return *pusher_; }
  EventBus& events() { return events_; }
  Metrics& metrics() { return metrics_; }
  platform::Clock& clock() { return clock_; }
  // Serialises local writes whose idempotency must be checked and recorded together.
  std::mutex& writeMutex() { return writeMutex_; }

 private:
  Agent(Config config, platform::Clock& clock, platform::Connectivity& connectivity, platform::Entropy& entropy);
  void loop();
  platform::MonoTime nextDeadline();
  platform::MonoTime toMono(platform::WallTime t) const;
  void ensureSession();
  void pullIfDue();
  std::chrono::milliseconds pullRetryDelay(int failures);
  void push();
  void makeDueNow(storage::OpState state, const std::string& reason);
  void announceParked();
  void roundDone(std::uint64_t served, bool online);
  void checkSla();
  void onConnectivity(const platform::ConnectivityState& state);

  Config config_;
  platform::Clock& clock_;
  platform::Connectivity& connectivity_;
  platform::Entropy& entropy_;  // the pull retry's jitter
  std::unique_ptr<platform::FileKeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::SecretStore> secrets_;
  std::unique_ptr<platform::HttpExchange> exchange_;
  std::unique_ptr<sync::UpstreamClient> client_;
  std::unique_ptr<sync::SessionManager> session_;
  std::unique_ptr<sync::Puller> puller_;
  std::unique_ptr<sync::Pusher> pusher_;
  std::unique_ptr<sync::Uploader> uploader_;
  std::unique_ptr<sync::Capture> capture_;
  std::unique_ptr<sync::ConflictDesk> desk_;
  EventBus events_;
  Metrics metrics_;
  std::mutex writeMutex_;

  platform::Wakeup wakeup_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> syncRequested_{true};
  std::atomic<bool> retryNow_{false};
  std::atomic<bool> signInWanted_{true};
  std::atomic<std::uint64_t> syncRequests_{0}, syncServed_{0};
  ProgressMeter* progress_ = nullptr;  // owned through exchange_
  std::shared_ptr<void> connectivitySubscription_;

  std::mutex stateMutex_;  // what status() reports, written by the loop
  std::optional<platform::MonoTime> nextPull_;
  int pullFailures_ = 0;  // failed pulls in a row: the retry backs off with them
  std::optional<platform::WallTime> lastPullAt_, lastPushAt_;
  std::string lastPullOutcome_, lastPushOutcome_;
  std::string roundPull_, roundPush_;  // this round's outcomes ("" when it did not pull / push)
  platform::MonoTime nextSlaCheck_{};
  std::set<std::string> slaAnnounced_;
  std::set<std::int64_t> conflictsAnnounced_, rejectionsAnnounced_;
  bool wasOnline_ = true;
};

}  // namespace fieldagent::agent
