// Known-answer tests: FIPS 180-2 (SHA-256), RFC 2202 and RFC 4231 (HMAC), and the GCM
// specification's AES-256 test cases 13-16 (McGrew & Viega, as used by NIST CAVP).
#include <catch2/catch.hpp>

#include <set>

#include "error_code_checks.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

using namespace fieldagent::platform;

namespace {
std::string unhex(std::string_view hex) { return hexDecode(hex).value(); }
}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-2 vectors", "[crypto]") {
  struct Vector {
    std::string input;
    const char* digest;
  };
  const std::vector<Vector> vectors = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1'000'000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.input.size());
    CHECK(hexEncode(sha256(v.input)) == v.digest);
  }
}

TEST_CASE("streaming SHA-256 gives the same digest however the input is split", "[crypto]") {
  const std::string input(100'003, 'x');
  const std::string whole = sha256(input);
  for (std::size_t piece : {1u, 63u, 64u, 65u, 4096u}) {
    Sha256 h;
    for (std::size_t pos = 0; pos < input.size(); pos += piece) h.update(std::string_view(input).substr(pos, piece));
    CHECK(h.finish() == whole);
  }
}

TEST_CASE("HMAC matches RFC 2202 and RFC 4231", "[crypto]") {
  const std::string key1(20, '\x0b');
  CHECK(hexEncode(hmac(HashAlg::sha1, key1, "Hi There")) == "b617318655057264e28bc0b6fb378c8ef146be00");
  CHECK(hexEncode(hmac(HashAlg::sha256, key1, "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hexEncode(hmac(HashAlg::sha512, key1, "Hi There")) ==
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  CHECK(hexEncode(hmac(HashAlg::sha1, "Jefe", "what do ya want for nothing?")) ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  CHECK(hexEncode(hmac(HashAlg::sha256, "Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(hexEncode(hmac(HashAlg::sha512, "Jefe", "what do ya want for nothing?")) ==
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

TEST_CASE("AES-256-GCM matches the GCM specification's test cases", "[crypto]") {
  struct Vector {
    const char *key, *iv, *plaintext, *aad, *ciphertext, *tag;
  };
  const char* k15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
  const std::vector<Vector> vectors = {
      {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
       "530f8afbc74536b9a963b4f1c4cb738b"},
      {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
       "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
      {k15, "cafebabefacedbaddecaf888",
       "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de65"
       "7"
       "ba637b391aafd255",
       "",
       "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0"
       "a"
       "bcc9f662898015ad",
       "b094dac5d93471bdec1a502270e3cc6c"},
      {k15, "cafebabefacedbaddecaf888",
       "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de65"
       "7"
       "ba637b39",
       "feedfacedeadbeeffeedfacedeadbeefabaddad2",
       "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0"
       "a"
       "bcc9f662",
       "76fc6ece0f4e1768cddf8853bb2d551b"},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.tag);
    auto sealed = aesGcmSeal(unhex(v.key), unhex(v.iv), unhex(v.plaintext), unhex(v.aad));
    REQUIRE(sealed.ok());
    CHECK(hexEncode(*sealed) == std::string(v.ciphertext) + v.tag);
    auto opened = aesGcmOpen(unhex(v.key), unhex(v.iv), *sealed, unhex(v.aad));
    REQUIRE(opened.ok());
    CHECK(hexEncode(*opened) == v.plaintext);
  }
}

TEST_CASE("AES-256-GCM refuses tampered data, a wrong key and wrong associated data", "[crypto]") {
  const std::string key(32, 'k');
  const std::string nonce(12, 'n');
  auto sealed = aesGcmSeal(key, nonce, "signature of Dana Harris", "att_1:chunk:0").value();

  std::string flipped = sealed;
  flipped[3] = static_cast<char>(flipped[3] ^ 1);
  CHECK(aesGcmOpen(key, nonce, flipped, "att_1:chunk:0").error().code == "auth_failed");
  CHECK(aesGcmOpen(std::string(32, 'x'), nonce, sealed, "att_1:chunk:0").error().code == "auth_failed");
  CHECK(aesGcmOpen(key, nonce, sealed, "att_1:chunk:1").error().code == "auth_failed");
  CHECK(aesGcmOpen(key, nonce, sealed.substr(0, 10), "att_1:chunk:0").error().code == "auth_failed");
  CHECK(aesGcmSeal("short", nonce, "x").error().code == "bad_key");
  CHECK(aesGcmSeal(key, "short", "x").error().code == "bad_nonce");
}

TEST_CASE("system entropy gives distinct bytes of the length asked", "[crypto]") {
  SystemEntropy entropy;
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto b = entropy.bytes(16);
    CHECK(b.size() == 16);
    seen.insert(b);
  }
  CHECK(seen.size() == 100);
  CHECK(entropy.bytes(5000).size() == 5000);  // larger than one DRBG request
}

TEST_CASE("constant-time comparison", "[crypto]") {
  CHECK(constantTimeEqual("abc", "abc"));
  CHECK_FALSE(constantTimeEqual("abc", "abd"));
  CHECK_FALSE(constantTimeEqual("abc", "abcd"));
}
