#pragma once
// The agent's settings: embedded defaults, then a JSON file, then FIELDAGENT_* environment
// variables, checked as a whole at start so a bad setting stops the agent with a message that
// names the key (docs/configuration.md lists every key).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::agent {

struct Config {
  std::string upstreamBaseUrl = "http://127.0.0.1:8080/integrations/int_local";
  std::string upstreamIntegrationToken;
  std::string tlsCaBundle;        // empty: the system's bundle
  std::vector<std::string> tlsPins;  // SHA-256 of a server public key, hex or base64
  std::string tenant = "acme";
  std::string mfaMethod = "totp";  // totp, sms, email, none
  std::filesystem::path dataDir = "/var/lib/fieldagent";
  std::string localApiBind = "127.0.0.1";
  int localApiPort = 8787;
  std::string localApiToken;                  // empty: tokenFile is used (made at first start)
  std::filesystem::path localApiTokenFile;    // empty: <dataDir>/api-token
  int localApiMaxConnections = 16;
  std::chrono::seconds pullInterval{300};
  std::chrono::seconds pushInterval{60};
  std::string logLevel = "information";
  std::string logSink = "console";            // console or syslog
  std::uint64_t attachmentQuotaBytes = 2ull << 30;
  std::uint64_t attachmentMaxBytes = 256ull << 20;
  // The uploader's settings a deployment chooses (sync::UploadSettings; reasons in sync/tuning.hpp).
  std::uint64_t uploadChunkBytes = sync::tuning::kUploadChunkBytes;
  bool holdLargeUploadsWhenMetered = false;
  std::uint64_t largeUploadBytes = sync::tuning::kLargeUploadBytes;
  std::map<std::string, double> laborRates;
  std::string currency = "USD";
  std::chrono::seconds slaRiskMargin{7200};
  std::string durability = "full";            // full or normal

  std::filesystem::path tokenFile() const;
  nlohmann::json toJson(bool redactSecrets) const;
};

// Reads `file` (may be empty: defaults and environment only) and applies `environment`
// (name → value, usually the process environment). Errors: "config" with a message naming the
// file or key and what is wrong with it.
Result<Config> loadConfig(const std::filesystem::path& file, const std::map<std::string, std::string>& environment);

// The process environment's FIELDAGENT_* variables.
std::map<std::string, std::string> processEnvironment();

}  // namespace fieldagent::agent
