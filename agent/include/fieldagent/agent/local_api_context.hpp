#pragma once
// What the local API is given by the agent: the parts it reads and writes through, the few
// things it may ask of the running agent, and its settings. Not the agent itself.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/agent/events.hpp"
#include "fieldagent/agent/metrics.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/conflicts.hpp"
#include "fieldagent/sync/session.hpp"

namespace fieldagent::agent {

// What an app may ask of the running agent beyond reading the cache and recording writes.
class AgentControl {
 public:
  virtual ~AgentControl() = default;
  // The agent's state as GET /agent/status shows it.
  virtual nlohmann::json status() = 0;
  // Pull and push now (POST /agent/sync).
  virtual void requestSync() = 0;
  // A local write was recorded: push it.
  virtual void localWriteRecorded() = 0;
  virtual Result<void> storeCredentials(const std::string& username, const std::string& password,
                                        const std::string& totpSecret) = 0;
  virtual Result<void> answerMfa(const std::string& code) = 0;
};

struct LocalApiSettings {
  std::string bind;
  int port = 0;
  int maxConnections = 16;
  std::uint64_t attachmentMaxBytes = 0;
  std::filesystem::path dataDir;  // where the app idempotency records are kept
};

struct LocalApiContext {
  AgentControl& agent;
  storage::Store& store;  // reads: the cache, the outbox, conflicts, attachments
  sync::Capture& capture;  // every write an app makes
  sync::ConflictDesk& conflicts;
  const sync::SessionManager& session;  // who is signed in
  EventBus& events;
  Metrics& metrics;
  platform::Clock& clock;
  // Serialises local writes whose idempotency must be checked and recorded together.
  std::mutex& writeMutex;
  LocalApiSettings settings;
};

}  // namespace fieldagent::agent
