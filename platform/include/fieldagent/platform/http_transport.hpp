#pragma once
// HTTP sessions to the upstream: plain Poco::Net::HTTPClientSession objects, over TLS (tls.hpp)
// for https:// and over a plain socket for http:// (loopback tests against alliance-sim), with
// the timeouts and keep-alive of TlsOptions. They reach the sync layer only through
// PocoHttpExchange (http_exchange.hpp), the one HTTP client path, whose errors are those of
// transportError(). See docs/transport.md.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <Poco/Net/HTTPClientSession.h>

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

// The session factory PocoHttpExchange (http_exchange.hpp) takes, for https:// and http:// origins.
SessionFactory sessionFactory(std::shared_ptr<const HttpTransport> transport);

// RFC 9110 HTTP-date (IMF-fixdate, RFC 850, asctime); std::nullopt when malformed.
std::optional<WallTime> parseHttpDate(std::string_view text);

}  // namespace fieldagent::platform
