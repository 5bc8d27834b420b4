#pragma once
// Crypto primitives over mbedTLS. Byte strings are std::string (binary-safe) so they move
// between SQLite blobs, files and HTTP bodies without copies into other types.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::platform {

// Streaming SHA-256: feed any number of pieces, then finish() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes);
  std::string finish();  // 32 raw bytes

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256(std::string_view bytes);  // 32 raw bytes

enum class HashAlg { sha1, sha256, sha512 };
std::string hmac(HashAlg alg, std::string_view key, std::string_view message);  // raw digest

// AES-256-GCM with a 12-byte nonce and a 16-byte tag. seal() returns ciphertext || tag;
// open() checks the tag and returns the plaintext, or Error{"auth_failed"} on any tampering.
constexpr std::size_t kAesKeyBytes = 32;
constexpr std::size_t kGcmNonceBytes = 12;
constexpr std::size_t kGcmTagBytes = 16;
Result<std::string> aesGcmSeal(std::string_view key, std::string_view nonce, std::string_view plaintext,
                               std::string_view associatedData = {});
Result<std::string> aesGcmOpen(std::string_view key, std::string_view nonce, std::string_view sealed,
                               std::string_view associatedData = {});

// Random bytes for keys, nonces and idempotency keys.
class Entropy {
 public:
  virtual ~Entropy() = default;
  virtual std::string bytes(std::size_t n) = 0;
};

// CTR-DRBG seeded from the OS entropy source (mbedtls_entropy_func); thread-safe.
class SystemEntropy final : public Entropy {
 public:
  SystemEntropy();
  ~SystemEntropy() override;
  SystemEntropy(const SystemEntropy&) = delete;
  SystemEntropy& operator=(const SystemEntropy&) = delete;
  std::string bytes(std::size_t n) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A process-wide SystemEntropy for code that has no injected one.
Entropy& systemEntropy();

// Compares in time independent of where the inputs differ (MACs, tokens).
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace fieldagent::platform
