#pragma once
// RFC 6238 time-based one-time passwords, as the technician's authenticator app makes them,
// so the agent can sign in again by itself while the technician is on a roof.
#include <chrono>
#include <cstdint>
#include <string>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/result.hpp"

namespace fieldagent::sync {

struct TotpParameters {
  platform::HashAlg algorithm = platform::HashAlg::sha1;
  int digits = 6;  // 6 or 8
  std::chrono::seconds period{30};
};

// The code for `at`. `secret` is the raw key (already base32-decoded).
std::string totpCode(const std::string& secret, platform::WallTime at, const TotpParameters& params = {});

// RFC 4226 HOTP, the counter-based core of TOTP.
std::string hotpCode(const std::string& secret, std::uint64_t counter, platform::HashAlg algorithm, int digits);

// Reads "otpauth://totp/...?secret=...&algorithm=SHA256&digits=8&period=60" or a bare base32
// secret; errors name what is wrong.
struct TotpSecret {
  std::string key;  // raw bytes
  TotpParameters params;
};
Result<TotpSecret> parseTotpSecret(const std::string& text);

}  // namespace fieldagent::sync
