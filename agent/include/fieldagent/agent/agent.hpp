#pragma once
// The composition root: the store, the secrets, the upstream client, the session, puller,
// pusher, uploader, capture and conflict desk, wired from a Config, and the sync loop
// (sync_loop.hpp) that keeps them moving. It hands the local API a LocalApiContext, not its
// parts one by one.
#include <memory>
#include <mutex>
#include <string>

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

class SyncLoop;
class ProgressEvents;

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
  // puts anything left in flight back to pending at the next open), then ends the event streams.
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
  // AgentControl. Tests and in-process tools reach the cache and the capture through it too.
  LocalApiContext localApiContext();

  const Config& config() const { return config_; }

 private:
  Agent(Config config, platform::Clock& clock, platform::Connectivity& connectivity);

  Config config_;
  platform::Clock& clock_;
  platform::Connectivity& connectivity_;
  std::unique_ptr<platform::FileKeyStore> keys_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::SecretStore> secrets_;
  std::unique_ptr<platform::HttpExchange> exchange_;
  std::unique_ptr<ProgressEvents> progress_;  // what the puller, pusher and uploader report
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
  std::unique_ptr<SyncLoop> loop_;  // last: stopped and destroyed before what it drives
};

}  // namespace fieldagent::agent
