#pragma once
// One HTTP request and its whole answer, over keep-alive connections kept per origin: the one
// HTTP client path of the agent. The sync layer talks to upstream only through this interface;
// the implementation below puts Poco's HTTPClientSession over a plain socket (loopback tests,
// alliance-sim) or the mbedTLS socket (https, through http_transport.hpp's session factory),
// and reports every failure with one of the typed transport codes of transportError().
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <exception>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/result.hpp"
#include "fieldagent/platform/tuning.hpp"

namespace Poco {
class Exception;
}
namespace Poco::Net {
class HTTPClientSession;
}

namespace fieldagent::platform {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute: scheme://host[:port]/path?query
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  HttpHeaders headers;
  std::string body;
  // Case-insensitive; the first value.
  std::optional<std::string> header(const std::string& name) const;
  // The server's Date header (RFC 9110 IMF-fixdate, or the obsolete RFC 850 / asctime forms);
  // empty when absent or malformed.
  std::optional<WallTime> date() const;
};

// What a failure to get an answer means. Codes, and whether trying again later can help:
//   transient (retry with back-off):  "transport_timeout" (connect, read or write timed out),
//       "transport_failed" (refused, reset, closed early, name not resolved, malformed HTTP),
//       "tls_handshake" (a handshake failure that is not about trust or protocol),
//       "tls_handshake_timeout"
//   permanent until configuration, certificates or the clock change:  "tls_untrusted",
//       "tls_expired", "tls_not_yet_valid", "tls_hostname_mismatch", "tls_pin_mismatch",
//       "tls_bad_certificate", "tls_protocol", and from the exchange and the transport before
//       any byte is sent: "bad_url", "insecure_url", "tls_config"; "response_too_large" (the
//       same request gets the same oversized answer), "internal" (a bug: misuse of a session,
//       out of memory).
Error transportError(const Poco::Exception& failure);
Error transportError(const std::exception& failure);
// True for the permanent codes above; every other code (also one a test's fake exchange makes
// up) is transient.
bool isPermanentTransportError(const Error& error);
inline bool isTransientTransportError(const Error& error) { return !isPermanentTransportError(error); }

// Errors: see transportError().
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual Result<HttpResponse> exchange(const HttpRequest& request) = 0;
};

struct HttpOptions {
  // For the sessions of the default (plain http) factory only: a SessionFactory's sessions keep
  // the timeouts it gave them (HttpTransport: TlsOptions).
  std::chrono::milliseconds connectTimeout = tuning::kConnectTimeout;
  std::chrono::milliseconds ioTimeout = tuning::kReadTimeout;  // send and receive, each
  std::uint64_t maxResponseBytes = tuning::kMaxResponseBytes;
  std::string userAgent = "fieldagent";
};

struct Origin {
  std::string scheme;  // "http" or "https"
  std::string host;
  std::uint16_t port = 0;
  bool operator<(const Origin& o) const {
    return std::tie(scheme, host, port) < std::tie(o.scheme, o.host, o.port);
  }
};

// Makes a connected-on-demand session for an origin, with its timeouts set. The default handles
// http only; the TLS transport supplies one for https (sessionFactory(), http_transport.hpp).
using SessionFactory = std::function<Result<std::unique_ptr<Poco::Net::HTTPClientSession>>(const Origin&)>;

// Splits "scheme://host[:port]/path?query" into its origin and the request target.
Result<std::pair<Origin, std::string>> splitUrl(const std::string& url);

class PocoHttpExchange final : public HttpExchange {
 public:
  explicit PocoHttpExchange(HttpOptions options = {}, SessionFactory factory = {});
  ~PocoHttpExchange() override;
  PocoHttpExchange(const PocoHttpExchange&) = delete;
  PocoHttpExchange& operator=(const PocoHttpExchange&) = delete;

  // Never throws. A failed exchange drops its connection, so the next request starts on a fresh
  // one. Errors: see transportError().
  Result<HttpResponse> exchange(const HttpRequest& request) override;
  // Closes idle keep-alive connections (connectivity changed, shutting down).
  void closeIdle();

 private:
  using SessionPtr = std::unique_ptr<Poco::Net::HTTPClientSession>;
  Result<SessionPtr> checkout(const Origin& origin);
  void checkin(const Origin& origin, SessionPtr session);

  HttpOptions options_;
  SessionFactory factory_;
  std::mutex mutex_;
  std::multimap<Origin, SessionPtr> idle_;
};

}  // namespace fieldagent::platform
