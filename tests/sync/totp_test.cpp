// RFC 6238 appendix B and RFC 4226 appendix D test vectors.
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/sync/totp.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;

TEST_CASE("TOTP matches RFC 6238 for SHA-1, SHA-256 and SHA-512", "[totp]") {
  const std::string sha1Key = "12345678901234567890";
  const std::string sha256Key = "12345678901234567890123456789012";
  const std::string sha512Key = "1234567890123456789012345678901234567890123456789012345678901234";
  struct Vector {
    long long time;
    const char *sha1, *sha256, *sha512;
  };
  const Vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.time);
    const platform::WallTime at{std::chrono::seconds{v.time}};
    CHECK(totpCode(sha1Key, at, {platform::HashAlg::sha1, 8, std::chrono::seconds{30}}) == v.sha1);
    CHECK(totpCode(sha256Key, at, {platform::HashAlg::sha256, 8, std::chrono::seconds{30}}) == v.sha256);
    CHECK(totpCode(sha512Key, at, {platform::HashAlg::sha512, 8, std::chrono::seconds{30}}) == v.sha512);
  }
  // T = 20000000000 (year 2603) does not fit a nanosecond system_clock; its counter does.
  const std::uint64_t counter = 20000000000ULL / 30;
  CHECK(hotpCode(sha1Key, counter, platform::HashAlg::sha1, 8) == "65353130");
  CHECK(hotpCode(sha256Key, counter, platform::HashAlg::sha256, 8) == "77737706");
  CHECK(hotpCode(sha512Key, counter, platform::HashAlg::sha512, 8) == "47863826");
}

TEST_CASE("HOTP matches RFC 4226 with six digits", "[totp]") {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t counter = 0; counter < 10; ++counter) {
    CHECK(hotpCode("12345678901234567890", counter, platform::HashAlg::sha1, 6) == expected[counter]);
  }
}

TEST_CASE("a code stays the same within its period and changes with the next", "[totp]") {
  const std::string key = "12345678901234567890";
  const platform::WallTime start{std::chrono::seconds{1'800'000'010}};  // 10 s into a period
  CHECK(totpCode(key, start) == totpCode(key, start + std::chrono::seconds{19}));
  CHECK(totpCode(key, start) != totpCode(key, start + std::chrono::seconds{20}));
  CHECK(totpCode(key, start).size() == 6);
}

TEST_CASE("TOTP secrets from a bare base32 string or an otpauth URI", "[totp]") {
  auto bare = parseTotpSecret("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
  REQUIRE(bare.ok());
  CHECK(bare->key == "12345678901234567890");
  CHECK(bare->params.digits == 6);

  auto uri = parseTotpSecret(
      "otpauth://totp/Alliance:dana?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA256&digits=8&period=60");
  REQUIRE(uri.ok());
  CHECK(uri->params.algorithm == platform::HashAlg::sha256);
  CHECK(uri->params.digits == 8);
  CHECK(uri->params.period == std::chrono::seconds{60});

  for (const char* bad : {"", "not base32 1", "otpauth://totp/x?algorithm=SHA1", "otpauth://hotp/x?secret=GEZD",
                          "otpauth://totp/x?secret=GEZD&digits=7", "otpauth://totp/x?secret=GEZD&period=-5",
                          "otpauth://totp/x?secret=GEZD&algorithm=MD5"}) {
    CAPTURE(bad);
    auto r = parseTotpSecret(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_totp_secret");
  }
}
