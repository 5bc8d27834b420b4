#pragma once
// RFC 6238 TOTP (HMAC-SHA-1, 30 s steps, 6 digits by default), for tests that log in to
// alliance-sim as a person with an authenticator app would. The agent's own TOTP lives in sync/;
// this second implementation is kept apart on purpose: alliance-sim checks the agent's codes
// with it, so the agent's is tested against an independent one, not against itself.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::testing {

// The code for `unixTime` from the raw shared key (RFC 4226 dynamic truncation).
inline std::string totpCode(std::string_view key, std::int64_t unixTime, int digits = 6, int periodSeconds = 30) {
  std::uint64_t counter = static_cast<std::uint64_t>(unixTime / periodSeconds);
  std::string message(8, '\0');
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  const std::string mac = platform::hmac(platform::HashAlg::sha1, key, message);
  const auto offset = static_cast<std::size_t>(static_cast<unsigned char>(mac[mac.size() - 1]) & 0x0f);
  const std::uint32_t binary = (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset]) & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

// The same from a base32 secret as authenticator apps take it; nullopt when it is not base32.
inline std::optional<std::string> totpCodeFromBase32(std::string_view secret, std::int64_t unixTime) {
  auto key = platform::base32Decode(secret);
  if (!key) return std::nullopt;
  return totpCode(*key, unixTime);
}

}  // namespace fieldagent::testing
