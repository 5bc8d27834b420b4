#pragma once
// The agent's secrets (session token, username and password, TOTP secret) in one file beside the
// database, sealed with AES-256-GCM under the platform key store's data key. The file holds no
// plaintext; values are registered with the log redactor as they are loaded or stored, so they
// never reach a log either.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/platform/result.hpp"

namespace fieldagent::storage {

// Names the agent uses; the store accepts any name.
namespace secret {
inline constexpr const char* kSessionToken = "session_token";
inline constexpr const char* kUsername = "username";
inline constexpr const char* kPassword = "password";
inline constexpr const char* kTotpSecret = "totp_secret";
inline constexpr const char* kIntegrationToken = "integration_token";
}  // namespace secret

class SecretStore {
 public:
  // Reads and opens `file` if it exists (0600, written atomically). Errors: "corrupt" (damaged,
  // or sealed under another key: never overwritten, so a restored key can still open it), "io",
  // and the key store's errors.
  static Result<std::unique_ptr<SecretStore>> open(std::filesystem::path file, platform::KeyStore& keys,
                                                   platform::Entropy& entropy);

  Result<std::optional<std::string>> get(const std::string& name) const;
  // Errors: "io", "no_space" (the file keeps its previous content).
  Result<void> put(const std::string& name, const std::string& value);
  Result<void> erase(const std::string& name);
  std::vector<std::string> names() const;

 private:
  SecretStore(std::filesystem::path file, std::string key, platform::Entropy& entropy);
  Result<void> save(const std::map<std::string, std::string>& values);

  std::filesystem::path file_;
  std::string key_;
  platform::Entropy& entropy_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> values_;
};

}  // namespace fieldagent::storage
