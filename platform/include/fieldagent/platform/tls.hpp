#pragma once
// TLS for the upstream connection: mbedTLS under a Poco::Net socket, so Poco's HTTPClientSession
// speaks HTTPS without Poco's OpenSSL-based NetSSL (which would bring a second TLS stack onto a
// device with little memory). See docs/transport.md.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/platform/tuning.hpp"

namespace fieldagent::platform {

inline constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

struct TlsOptions {
  // PEM bundle of trusted CAs (or a folder of PEM files), read once per transport.
  std::string caBundleFile = kSystemCaBundle;
  // PEM text of the only CAs to trust; when set, caBundleFile is not read. For a private upstream
  // and for tests that make their own CA.
  std::string customCaPem;
  // SHA-256 of the server certificate's DER SubjectPublicKeyInfo, in hex or base64 (what
  // `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`
  // prints). Empty: no pinning. Several: any one matches (room for a key rollover).
  std::vector<std::string> pinnedPublicKeys;

  // The reasons for the defaults are in tuning.hpp.
  std::chrono::milliseconds connectTimeout = tuning::kConnectTimeout;
  // From the TCP connection to the finished TLS handshake.
  std::chrono::milliseconds handshakeTimeout = tuning::kHandshakeTimeout;
  // The longest wait for the next bytes of an answer / for room to send the next bytes.
  std::chrono::milliseconds readTimeout = tuning::kReadTimeout;
  std::chrono::milliseconds writeTimeout = tuning::kWriteTimeout;
  // A kept-alive connection idle longer than this is not reused (servers drop idle ones).
  std::chrono::milliseconds keepAliveIdle = tuning::kKeepAliveIdle;
  // http:// to a host other than loopback sends tokens in clear; refused unless set.
  bool allowPlainHttpBeyondLoopback = false;
};

// Why a TLS connection was refused or failed. Verification failures mean the server cannot be
// trusted as configured: retrying soon does not help, a person (or the clock) has to change
// something. The others are transport failures and are retried.
enum class TlsFailure {
  untrusted,          // chain does not lead to a trusted CA (unknown CA, self-signed)
  expired,            // a certificate's validity has ended
  not_yet_valid,      // a certificate's validity has not begun (often a device clock set back)
  hostname_mismatch,  // the certificate does not name the host (DNS name or IP address)
  pin_mismatch,       // chain valid, but the server's public key is not a pinned one
  bad_certificate,    // other verification failures: key usage, weak hash or key
  protocol,           // no common protocol version or cipher suite (e.g. a TLS 1.1-only server)
  handshake_timeout,  // the handshake did not finish within handshakeTimeout
  handshake_failed,   // any other handshake failure (alert, malformed message, reset)
};

const char* tlsFailureName(TlsFailure failure);  // "untrusted", "expired", ...
bool isVerificationFailure(TlsFailure failure);

// Thrown by the TLS socket under Poco's classes; a Poco::Net::NetException so Poco's streams and
// sessions treat it as a network error. Convert with transportError() (http_exchange.hpp).
class TlsException : public Poco::Net::NetException {
 public:
  TlsException(TlsFailure failure, const std::string& message);
  TlsFailure failure() const { return failure_; }
  const char* name() const noexcept override;
  const char* className() const noexcept override;
  Poco::Exception* clone() const override;
  void rethrow() const override;

 private:
  TlsFailure failure_;
};

// The verification failures (isVerificationFailure()), as their own type so that code written for
// Poco's exception names (NetSSL's CertificateValidationException) tells them apart too.
class TlsCertificateException : public TlsException {
 public:
  TlsCertificateException(TlsFailure failure, const std::string& message);
  const char* name() const noexcept override;
  const char* className() const noexcept override;
  Poco::Exception* clone() const override;
  void rethrow() const override;
};

// Trust anchors, pins and the mbedTLS configuration shared by every connection of a transport
// (parsing the system bundle costs far more memory and time than one connection, so it is done
// once). Immutable after create(); safe to share between threads.
class TlsClientContext {
 public:
  // Errors: "tls_config" (CA bundle unreadable or holding no certificate, malformed pin).
  static Result<std::shared_ptr<const TlsClientContext>> create(const TlsOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  const TlsOptions& options() const;
  int trustedCaCount() const;

  struct State;  // mbedTLS objects; complete only in tls.cpp
  const State& state() const { return *state_; }

 private:
  TlsClientContext();
  std::unique_ptr<State> state_;
};

// An unconnected socket whose bytes go through TLS to `host` (a DNS name or an IP address; it is
// what the certificate must name). connect() makes the TCP connection and the full handshake;
// close() ends the session, so a reconnect is a fresh handshake.
Poco::Net::StreamSocket makeTlsSocket(std::shared_ptr<const TlsClientContext> context, const std::string& host);

}  // namespace fieldagent::platform
