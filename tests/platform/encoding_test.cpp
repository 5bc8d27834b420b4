// RFC 4648 section 10 test vectors for base64 and base32, plus hex.
#include <catch2/catch.hpp>

#include "fieldagent/platform/encoding.hpp"

using namespace fieldagent::platform;

TEST_CASE("base64 and base32 match RFC 4648", "[encoding]") {
  const std::vector<std::tuple<std::string, std::string, std::string>> vectors = {
      {"", "", ""},
      {"f", "Zg==", "MY======"},
      {"fo", "Zm8=", "MZXQ===="},
      {"foo", "Zm9v", "MZXW6==="},
      {"foob", "Zm9vYg==", "MZXW6YQ="},
      {"fooba", "Zm9vYmE=", "MZXW6YTB"},
      {"foobar", "Zm9vYmFy", "MZXW6YTBOI======"},
  };
  for (const auto& [plain, b64, b32] : vectors) {
    CAPTURE(plain);
    CHECK(base64Encode(plain) == b64);
    CHECK(base64Decode(b64).value() == plain);
    CHECK(base32Encode(plain) == b32);
    CHECK(base32Decode(b32).value() == plain);
  }
}

TEST_CASE("base32 decoding accepts what authenticator apps show", "[encoding]") {
  CHECK(base32Decode("mzxw 6ytb oi").value() == "foobar");
  CHECK(base32Decode("MZXW6YTBOI").value() == "foobar");
  CHECK_FALSE(base32Decode("MZXW1").has_value());  // 1 is not in the alphabet
  CHECK_FALSE(base32Decode("MY==MY").has_value());
}

TEST_CASE("base64 decoding refuses malformed text", "[encoding]") {
  CHECK_FALSE(base64Decode("Zm9v!").has_value());
  CHECK_FALSE(base64Decode("Z").has_value());
  CHECK_FALSE(base64Decode("Zg==Zg==").has_value());
  CHECK_FALSE(base64Decode("Zg===").has_value());
  const std::string binary("\x00\xff\xfe\x10 ok", 7);
  CHECK(base64Decode(base64Encode(binary)).value() == binary);
  CHECK(base64UrlEncode("\xfb\xff") == "-_8");
  CHECK(base64Decode("-_8").value() == "\xfb\xff");
}

TEST_CASE("hex round trip and refusal", "[encoding]") {
  CHECK(hexEncode(std::string("\x00\xab\xff", 3)) == "00abff");
  CHECK(hexDecode("00ABff").value() == std::string("\x00\xab\xff", 3));
  CHECK_FALSE(hexDecode("abc").has_value());
  CHECK_FALSE(hexDecode("zz").has_value());
}
