#pragma once
// HTTP sessions to the upstream: plain Poco::Net::HTTPClientSession objects, over TLS (tls.hpp)
// for https:// and over a plain socket for http:// (loopback tests against alliance-sim), with
// the timeouts and keep-alive of TlsOptions. roundTrip() is the exception-free edge for the sync
// layer; transportError() says what a failure means. See docs/transport.md.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/NameValueCollection.h>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/result.hpp"
#include "fieldagent/platform/tls.hpp"

namespace fieldagent::platform {

// "https://api.example.com/integrations/abc" → {https, api.example.com, 443, "/integrations/abc"}.
struct BaseUrl {
  std::string scheme;      // "http" or "https"
  std::string host;        // a DNS name or an IP address (IPv6 without brackets)
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string pathPrefix;  // "" or "/a/b": no trailing slash, so prefix + "/work-orders" is a path

  bool secure() const { return scheme == "https"; }
  bool loopback() const;  // localhost, 127.0.0.0/8 or ::1
  std::string toString() const;
};

// Errors: "bad_url" (not http/https, no host, user info, query or fragment, bad port).
Result<BaseUrl> parseBaseUrl(std::string_view text);

// Makes sessions over TLS (https://) or a plain socket (http://, loopback only unless allowed).
// The trust anchors are parsed once, at loadTrust() or the first https:// session, and shared by
// every session it makes. Thread-safe.
class HttpTransport {
 public:
  explicit HttpTransport(TlsOptions options);

  // Not connected yet: the first request connects (and for https:// makes the handshake). The
  // connection is kept alive between requests and a new one made, with a full handshake, when
  // the server has closed it. The path prefix of `origin` is not used. One session is used by one
  // thread at a time. Errors: "insecure_url", "tls_config" (see TlsClientContext::create).
  Result<std::unique_ptr<Poco::Net::HTTPClientSession>> newSession(const BaseUrl& origin) const;

  // Parses the trust anchors now, so that a bad CA bundle or pin shows at start-up.
  Result<void> loadTrust() const;

  const TlsOptions& options() const { return options_; }

 private:
  Result<std::shared_ptr<const TlsClientContext>> trust() const;
  TlsOptions options_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const TlsClientContext> tls_;
};

// One-off form of HttpTransport(options).newSession(base); parses the trust anchors each time.
Result<std::unique_ptr<Poco::Net::HTTPClientSession>> makeHttpSession(const BaseUrl& base, const TlsOptions& options);

// The session factory PocoHttpExchange (http_exchange.hpp) takes, for https:// and http:// origins.
SessionFactory sessionFactory(std::shared_ptr<const HttpTransport> transport);

struct HttpReply {
  int status = 0;
  std::string reason;
  Poco::Net::NameValueCollection headers;  // names compare case-insensitively
  std::string body;

  std::string header(const std::string& name) const { return headers.get(name, ""); }
  // The server's Date header (RFC 9110 IMF-fixdate, or the obsolete RFC 850 / asctime forms);
  // empty when absent or malformed.
  std::optional<WallTime> date() const;
};

// A device with little memory must not be made to hold an arbitrary answer.
inline constexpr std::size_t kMaxReplyBodyBytes = std::size_t{32} << 20;

// Sends `request` with `body` (Content-Length is set from it unless the request is chunked) and
// reads the whole answer. Never throws. On failure the session is reset, so its next request
// starts on a fresh connection. Errors: see transportError(), plus "response_too_large".
Result<HttpReply> roundTrip(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request,
                            std::string_view body = {}, std::size_t maxBodyBytes = kMaxReplyBodyBytes);

// What a failure of the transport means. Codes, and whether trying again later can help:
//   transient (retry with back-off):  "transport_timeout" (connect, read or write timed out),
//       "transport_failed" (refused, reset, closed early, name not resolved, malformed
//       HTTP), "tls_handshake" (a handshake failure that is not about trust or protocol)
//       "tls_handshake_timeout"
//   permanent until configuration, certificates or the clock change:  "tls_untrusted",
//       "tls_expired", "tls_not_yet_valid", "tls_hostname_mismatch", "tls_pin_mismatch",
//       "tls_bad_certificate", "tls_protocol", "internal" (a bug, e.g. misuse of a session)
// (roundTrip() adds "response_too_large", also permanent for that request.)
Error transportError(const Poco::Exception& failure);
Error transportError(const std::exception& failure);
bool isTransientTransportError(const Error& error);

// RFC 9110 HTTP-date (IMF-fixdate, RFC 850, asctime); std::nullopt when malformed.
std::optional<WallTime> parseHttpDate(std::string_view text);

}  // namespace fieldagent::platform
