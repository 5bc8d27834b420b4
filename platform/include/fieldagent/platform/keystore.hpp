#pragma once
// Where the device's data key lives. On the reference devices it is a 0600 file on the
// data partition (readable by the agent's user only); a device with a secure element would
// provide another KeyStore.
#include <filesystem>
#include <string>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/result.hpp"

namespace fieldagent::platform {

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // The 32-byte key that encrypts secrets and attachments at rest; made on first use.
  virtual Result<std::string> dataKey() = 0;
};

class FileKeyStore final : public KeyStore {
 public:
  FileKeyStore(std::filesystem::path file, Entropy& entropy);
  Result<std::string> dataKey() override;

 private:
  std::filesystem::path file_;
  Entropy& entropy_;
};

}  // namespace fieldagent::platform
