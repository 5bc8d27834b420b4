#include "fieldagent/platform/crypto.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <mutex>
#include <stdexcept>

namespace fieldagent::platform {
namespace {

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* u8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

struct Sha256::State {
  mbedtls_sha256_context ctx;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  mbedtls_sha256_init(&state_->ctx);
  mbedtls_sha256_starts_ret(&state_->ctx, 0);
}

Sha256::~Sha256() { mbedtls_sha256_free(&state_->ctx); }

void Sha256::update(std::string_view bytes) { mbedtls_sha256_update_ret(&state_->ctx, u8(bytes), bytes.size()); }

std::string Sha256::finish() {
  std::string out(32, '\0');
  mbedtls_sha256_finish_ret(&state_->ctx, u8(out));
  return out;
}

std::string sha256(std::string_view bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

std::string hmac(HashAlg alg, std::string_view key, std::string_view message) {
  const mbedtls_md_type_t type = alg == HashAlg::sha1     ? MBEDTLS_MD_SHA1
                                 : alg == HashAlg::sha256 ? MBEDTLS_MD_SHA256
                                                          : MBEDTLS_MD_SHA512;
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(type);
  std::string out(mbedtls_md_get_size(info), '\0');
  if (mbedtls_md_hmac(info, u8(key), key.size(), u8(message), message.size(), u8(out)) != 0) {
    throw std::runtime_error("mbedtls_md_hmac failed");  // only on a broken mbedTLS build
  }
  return out;
}

namespace {

class Gcm {
 public:
  Gcm() { mbedtls_gcm_init(&ctx_); }
  ~Gcm() { mbedtls_gcm_free(&ctx_); }
  Gcm(const Gcm&) = delete;
  Gcm& operator=(const Gcm&) = delete;
  mbedtls_gcm_context* get() { return &ctx_; }

 private:
  mbedtls_gcm_context ctx_;
};

Result<void> checkSizes(std::string_view key, std::string_view nonce) {
  if (key.size() != kAesKeyBytes) return makeError("bad_key", "AES-256-GCM needs a 32-byte key");
  if (nonce.size() != kGcmNonceBytes) return makeError("bad_nonce", "AES-256-GCM needs a 12-byte nonce");
  return {};
}

}  // namespace

Result<std::string> aesGcmSeal(std::string_view key, std::string_view nonce, std::string_view plaintext,
                               std::string_view associatedData) {
  if (auto ok = checkSizes(key, nonce); !ok) return ok.error();
  Gcm gcm;
  if (mbedtls_gcm_setkey(gcm.get(), MBEDTLS_CIPHER_ID_AES, u8(key), 256) != 0) {
    return makeError("crypto", "cannot set the AES-GCM key");
  }
  std::string out(plaintext.size() + kGcmTagBytes, '\0');
  auto* tag = u8(out) + plaintext.size();
  if (mbedtls_gcm_crypt_and_tag(gcm.get(), MBEDTLS_GCM_ENCRYPT, plaintext.size(), u8(nonce), nonce.size(),
                                u8(associatedData), associatedData.size(), u8(plaintext), u8(out), kGcmTagBytes,
                                tag) != 0) {
    return makeError("crypto", "AES-GCM encryption failed");
  }
  return out;
}

Result<std::string> aesGcmOpen(std::string_view key, std::string_view nonce, std::string_view sealed,
                               std::string_view associatedData) {
  if (auto ok = checkSizes(key, nonce); !ok) return ok.error();
  if (sealed.size() < kGcmTagBytes) return makeError("auth_failed", "sealed data shorter than its tag");
  Gcm gcm;
  if (mbedtls_gcm_setkey(gcm.get(), MBEDTLS_CIPHER_ID_AES, u8(key), 256) != 0) {
    return makeError("crypto", "cannot set the AES-GCM key");
  }
  const std::size_t len = sealed.size() - kGcmTagBytes;
  std::string out(len, '\0');
  const int rc = mbedtls_gcm_auth_decrypt(gcm.get(), len, u8(nonce), nonce.size(), u8(associatedData),
                                          associatedData.size(), u8(sealed) + len, kGcmTagBytes, u8(sealed), u8(out));
  if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
    mbedtls_platform_zeroize(out.data(), out.size());
    return makeError("auth_failed", "AES-GCM tag mismatch: the data or its key is not what was sealed");
  }
  if (rc != 0) return makeError("crypto", "AES-GCM decryption failed");
  return out;
}

struct SystemEntropy::State {
  std::mutex mutex;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
};

SystemEntropy::SystemEntropy() : state_(std::make_unique<State>()) {
  mbedtls_entropy_init(&state_->entropy);
  mbedtls_ctr_drbg_init(&state_->drbg);
  static const char personalisation[] = "fieldagent";
  if (mbedtls_ctr_drbg_seed(&state_->drbg, mbedtls_entropy_func, &state_->entropy,
                            reinterpret_cast<const unsigned char*>(personalisation), sizeof personalisation - 1) != 0) {
    throw std::runtime_error("cannot seed the random generator from the OS entropy source");
  }
  mbedtls_ctr_drbg_set_prediction_resistance(&state_->drbg, MBEDTLS_CTR_DRBG_PR_OFF);
}

SystemEntropy::~SystemEntropy() {
  mbedtls_ctr_drbg_free(&state_->drbg);
  mbedtls_entropy_free(&state_->entropy);
}

std::string SystemEntropy::bytes(std::size_t n) {
  std::string out(n, '\0');
  std::lock_guard lock(state_->mutex);
  std::size_t done = 0;
  while (done < n) {
    const std::size_t chunk = std::min<std::size_t>(n - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    if (mbedtls_ctr_drbg_random(&state_->drbg, u8(out) + done, chunk) != 0) {
      throw std::runtime_error("the random generator failed");
    }
    done += chunk;
  }
  return out;
}

Entropy& systemEntropy() {
  static SystemEntropy instance;
  return instance;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<unsigned char>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace fieldagent::platform
