#include "fieldagent/platform/tls.hpp"

#include "tls_state.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <system_error>

#include <Poco/Exception.h>
#include <Poco/Net/StreamSocketImpl.h>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::platform {

// ---------------------------------------------------------------------------------------------
// Failures

const char* tlsFailureName(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::untrusted:
      return "untrusted";
    case TlsFailure::expired:
      return "expired";
    case TlsFailure::not_yet_valid:
      return "not_yet_valid";
    case TlsFailure::hostname_mismatch:
      return "hostname_mismatch";
    case TlsFailure::pin_mismatch:
      return "pin_mismatch";
    case TlsFailure::bad_certificate:
      return "bad_certificate";
    case TlsFailure::protocol:
      return "protocol";
    case TlsFailure::handshake_timeout:
      return "handshake_timeout";
    case TlsFailure::handshake_failed:
      return "handshake_failed";
  }
  return "handshake_failed";
}

bool isVerificationFailure(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::untrusted:
    case TlsFailure::expired:
    case TlsFailure::not_yet_valid:
    case TlsFailure::hostname_mismatch:
    case TlsFailure::pin_mismatch:
    case TlsFailure::bad_certificate:
      return true;
    default:
      return false;
  }
}

TlsException::TlsException(TlsFailure failure, const std::string& message)
    : Poco::Net::NetException(message), failure_(failure) {}
const char* TlsException::name() const noexcept { return "TLS failure"; }
const char* TlsException::className() const noexcept { return "fieldagent::platform::TlsException"; }
Poco::Exception* TlsException::clone() const { return new TlsException(*this); }
void TlsException::rethrow() const { throw *this; }

TlsCertificateException::TlsCertificateException(TlsFailure failure, const std::string& message)
    : TlsException(failure, message) {}
const char* TlsCertificateException::name() const noexcept { return "TLS certificate refused"; }
const char* TlsCertificateException::className() const noexcept {
  return "fieldagent::platform::TlsCertificateException";
}
Poco::Exception* TlsCertificateException::clone() const { return new TlsCertificateException(*this); }
void TlsCertificateException::rethrow() const { throw *this; }

namespace {


std::string trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// Pins come from configuration written by people: accept hex, base64, and the "sha256/<base64>"
// form that HPKP and several HTTP clients print.
Result<std::string> decodePin(std::string_view text) {
  std::string pin = trimmed(text);
  if (pin.rfind("sha256/", 0) == 0) pin.erase(0, 7);
  std::optional<std::string> digest;
  if (pin.size() == 64) digest = hexDecode(pin);
  if (!digest) digest = base64Decode(pin);
  if (!digest || digest->size() != 32) {
    return makeError("tls_config", "public key pin '" + std::string(text) +
                                       "' is not a SHA-256 digest in hex (64 digits) or base64 (44 characters)");
  }
  return *digest;
}

// The process's one CTR-DRBG (crypto.hpp), rather than an entropy context per transport: with
// Debian's mbedTLS configuration an mbedtls_entropy_context alone is 37 KiB. Thread-safe.
int platformRandom(void*, unsigned char* out, size_t len) {
  try {
    const std::string bytes = systemEntropy().bytes(len);
    std::memcpy(out, bytes.data(), len);
    return 0;
  } catch (...) {
    return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;  // no exception may unwind through mbedTLS
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shared context

std::string mbedtlsText(int rc) {
  char text[160];
  mbedtls_strerror(rc, text, sizeof text);
  return text;
}


TlsClientContext::TlsClientContext() : state_(std::make_unique<State>()) {}
TlsClientContext::~TlsClientContext() = default;
const TlsOptions& TlsClientContext::options() const { return state_->options; }
int TlsClientContext::trustedCaCount() const { return state_->trustedCount; }

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::create(const TlsOptions& options) {
  std::shared_ptr<TlsClientContext> context(new TlsClientContext());
  State& s = *context->state_;
  s.options = options;

  for (const auto& text : options.pinnedPublicKeys) {
    auto pin = decodePin(text);
    if (!pin) return pin.error();
    s.pins.push_back(std::move(pin).value());
  }

  int rc = 0;
  std::string source;
  if (!options.customCaPem.empty()) {
    source = "the custom CA";
    // mbedTLS recognises PEM only in a NUL-terminated buffer whose length counts the NUL.
    rc = mbedtls_x509_crt_parse(&s.trusted, reinterpret_cast<const unsigned char*>(options.customCaPem.c_str()),
                                options.customCaPem.size() + 1);
    if (rc > 0) {
      return makeError("tls_config", std::to_string(rc) + " certificate(s) of the custom CA could not be parsed");
    }
  } else {
    source = "CA bundle " + options.caBundleFile;
    // A positive count of unparseable entries is tolerated for the system bundle: it may hold
    // roots in forms this mbedTLS does not support, and the rest are still good anchors. Some
    // images ship only the hashed folder (/etc/ssl/certs) without the single file.
    std::error_code ec;
    if (std::filesystem::is_directory(options.caBundleFile, ec)) {
      // The folder is walked here rather than by mbedtls_x509_crt_parse_path, whose readdir()
      // is not large-file aware: on 32-bit ARM it fails with EOVERFLOW on file systems with
      // 64-bit inode numbers. Unreadable entries count like unparseable ones.
      rc = 0;
      bool any = false;
      for (std::filesystem::directory_iterator it(options.caBundleFile, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        any = true;
        const int one = mbedtls_x509_crt_parse_file(&s.trusted, it->path().c_str());
        rc += one == 0 ? 0 : (one > 0 ? one : 1);
      }
      if (ec || !any) rc = MBEDTLS_ERR_X509_FILE_IO_ERROR;
    } else {
      rc = mbedtls_x509_crt_parse_file(&s.trusted, options.caBundleFile.c_str());
    }
  }
  if (rc < 0) return makeError("tls_config", source + " cannot be used: " + mbedtlsText(rc));
  for (const mbedtls_x509_crt* c = &s.trusted; c != nullptr; c = c->next) {
    if (c->version != 0) ++s.trustedCount;
  }
  if (s.trustedCount == 0) return makeError("tls_config", source + " holds no certificate");

  rc = mbedtls_ssl_config_defaults(&s.config, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                   MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return makeError("tls_config", "cannot set up TLS: " + mbedtlsText(rc));
  mbedtls_ssl_conf_min_version(&s.config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(&s.config, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&s.config, &s.trusted, nullptr);
  mbedtls_ssl_conf_rng(&s.config, &platformRandom, nullptr);
  return std::shared_ptr<const TlsClientContext>(std::move(context));
}

}  // namespace fieldagent::platform
