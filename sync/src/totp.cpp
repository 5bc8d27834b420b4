#include "fieldagent/sync/totp.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::sync {

std::string hotpCode(const std::string& secret, std::uint64_t counter, platform::HashAlg algorithm, int digits) {
  std::string message(8, '\0');
  for (int i = 7; i >= 0; --i) {
    message[static_cast<std::size_t>(i)] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  const std::string mac = platform::hmac(algorithm, secret, message);
  // Dynamic truncation (RFC 4226 section 5.3).
  const auto offset = static_cast<std::size_t>(static_cast<unsigned char>(mac.back()) & 0x0f);
  const std::uint32_t binary = (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset]) & 0x7f) << 24) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8) |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  std::uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  if (code.size() < static_cast<std::size_t>(digits)) {
    code.insert(0, static_cast<std::size_t>(digits) - code.size(), '0');
  }
  return code;
}

std::string totpCode(const std::string& secret, platform::WallTime at, const TotpParameters& params) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
  const auto step = seconds < 0 ? 0 : static_cast<std::uint64_t>(seconds / params.period.count());
  return hotpCode(secret, step, params.algorithm, params.digits);
}

Result<TotpSecret> parseTotpSecret(const std::string& text) {
  TotpSecret out;
  std::string base32 = text;
  if (text.rfind("otpauth://", 0) == 0) {
    Poco::URI uri;
    try {
      uri = Poco::URI(text);
    } catch (const Poco::Exception& e) {
      return makeError("bad_totp_secret", "not a valid otpauth URI: " + e.message());
    }
    if (uri.getHost() != "totp") return makeError("bad_totp_secret", "only otpauth://totp URIs are supported");
    base32.clear();
    for (const auto& [name, value] : uri.getQueryParameters()) {
      if (name == "secret") {
        base32 = value;
      } else if (name == "algorithm") {
        if (value == "SHA1") out.params.algorithm = platform::HashAlg::sha1;
        else if (value == "SHA256") out.params.algorithm = platform::HashAlg::sha256;
        else if (value == "SHA512") out.params.algorithm = platform::HashAlg::sha512;
        else return makeError("bad_totp_secret", "unsupported TOTP algorithm '" + value + "'");
      } else if (name == "digits") {
        if (value != "6" && value != "8") return makeError("bad_totp_secret", "TOTP digits must be 6 or 8");
        out.params.digits = value == "6" ? 6 : 8;
      } else if (name == "period") {
        int period = 0;
        for (char c : value) {
          if (c < '0' || c > '9' || period > 86400) return makeError("bad_totp_secret", "bad TOTP period");
          period = period * 10 + (c - '0');
        }
        if (period <= 0 || period > 86400) return makeError("bad_totp_secret", "bad TOTP period");
        out.params.period = std::chrono::seconds{period};
      }
    }
    if (base32.empty()) return makeError("bad_totp_secret", "otpauth URI without a secret");
  }
  auto key = platform::base32Decode(base32);
  if (!key || key->empty()) return makeError("bad_totp_secret", "the TOTP secret is not base32");
  out.key = std::move(*key);
  return out;
}

}  // namespace fieldagent::sync
