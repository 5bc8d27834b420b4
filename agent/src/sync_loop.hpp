#pragma once
// The sync loop: one thread that waits on the clock (never sleeps in a loop) until the next
// pull, renewal, retry or SLA check is due, or until a local write, a sync request or
// connectivity coming back wakes it; then it signs in if it must, pulls, pushes, and tells the
// apps what happened (events, metrics, what GET /agent/status shows of the last pull and push).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "fieldagent/agent/events.hpp"
#include "fieldagent/agent/metrics.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/puller.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/session.hpp"
#include "progress_events.hpp"

namespace fieldagent::agent {

// The last pull or push as GET /agent/status shows it: when, and how it ended.
struct LastAttempt {
  std::optional<platform::WallTime> at;
  std::string outcome;  // "ok" or "<code>: <message>"; "" before the first attempt
  std::optional<ErrorCode> error;  // the failure's code alone; none after a success

  void succeeded(platform::WallTime when);
  void failed(platform::WallTime when, const Error& e);
  nlohmann::json toJson() const;
};

struct SyncLoopSettings {
  std::chrono::seconds pullInterval{300};
  std::chrono::seconds pushInterval{60};
  std::chrono::seconds slaRiskMargin{7200};
};

// What the loop drives; all owned by the agent, which outlives the loop.
struct SyncLoopParts {
  platform::Clock& clock;
  platform::Connectivity& connectivity;
  platform::Entropy& entropy;  // the pull retry's jitter
  storage::Store& store;
  storage::SecretStore& secrets;  // whether anybody signed in yet
  sync::SessionManager& session;
  sync::UpstreamClient& client;  // told when a blocked upstream is worth trying again
  sync::Puller& puller;
  sync::Pusher& pusher;
  EventBus& events;
  Metrics& metrics;
  ProgressEvents& progress;  // told when a pull or push starts and ends
};

class SyncLoop {
 public:
  SyncLoop(SyncLoopParts parts, SyncLoopSettings settings);
  ~SyncLoop();
  SyncLoop(const SyncLoop&) = delete;
  SyncLoop& operator=(const SyncLoop&) = delete;

  // Starts / stops the loop's thread. stop() lets the operation being sent finish.
  void start();
  void stop();

  // Pull and push now. Requests are numbered (status()["sync"]["requested"]); the round that
  // serves one publishes a "sync" event with phase "round_done" and "served" at least that.
  void requestSync();
  // Push what a local write just queued.
  void localWriteRecorded();
  // Sign in at the next round (new credentials were stored).
  void wantSignIn();
  // One round now, on the caller's thread (tests; the loop calls it too).
  void runRound();

  // What /agent/status shows of the loop: "sync", "lastPull", "lastPush".
  nlohmann::json status();

 private:
  void loop();
  platform::MonoTime nextDeadline();
  platform::MonoTime toMono(platform::WallTime t) const;
  void ensureSession();
  void publishFailed(const char* phase, const Error& e);  // a "sync" event: pull_failed, push_failed
  void pullIfDue();
  std::chrono::milliseconds pullRetryDelay(int failures);
  void push();
  void makeDueNow(storage::OpState state, const std::string& reason);
  void announceParked();
  void roundDone(std::uint64_t served, bool online);
  void checkSla();
  void onConnectivity(const platform::ConnectivityState& state);

  SyncLoopParts parts_;
  SyncLoopSettings settings_;

  platform::Wakeup wakeup_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> syncRequested_{true};
  std::atomic<bool> retryNow_{false};
  std::atomic<bool> signInWanted_{true};
  std::atomic<std::uint64_t> syncRequests_{0}, syncServed_{0};
  std::shared_ptr<void> connectivitySubscription_;

  std::mutex stateMutex_;  // what status() reports, written by the loop
  std::optional<platform::MonoTime> nextPull_;
  int pullFailures_ = 0;  // failed pulls in a row: the retry backs off with them
  LastAttempt lastPull_, lastPush_;
  std::string roundPull_, roundPush_;  // this round's outcomes ("" when it did not pull / push)
  platform::MonoTime nextSlaCheck_{};
  std::set<std::string> slaAnnounced_;
  std::set<std::int64_t> conflictsAnnounced_, rejectionsAnnounced_;
  bool wasOnline_ = true;
};

}  // namespace fieldagent::agent
