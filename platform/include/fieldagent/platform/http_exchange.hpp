#pragma once
// One HTTP request and its whole answer, over keep-alive connections kept per origin. The
// sync layer talks to upstream only through this interface; the implementation below puts
// Poco's HTTPClientSession over a plain socket (loopback tests, alliance-sim) or the mbedTLS
// socket (https).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fieldagent/platform/result.hpp"

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
};

// Errors: "transport" (refused, reset, timeout, DNS: worth retrying), "tls" (certificate or
// pin verification failed: retrying will not help), "bad_url", "response_too_large".
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual Result<HttpResponse> exchange(const HttpRequest& request) = 0;
};

struct HttpOptions {
  std::chrono::milliseconds connectTimeout{10'000};
  std::chrono::milliseconds ioTimeout{30'000};  // send and receive, each
  std::uint64_t maxResponseBytes = 64u << 20;
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

// Makes a connected-on-demand session for an origin. The default handles http only; the TLS
// transport supplies one for https.
using SessionFactory = std::function<Result<std::unique_ptr<Poco::Net::HTTPClientSession>>(const Origin&)>;

// Splits "scheme://host[:port]/path?query" into its origin and the request target.
Result<std::pair<Origin, std::string>> splitUrl(const std::string& url);

class PocoHttpExchange final : public HttpExchange {
 public:
  explicit PocoHttpExchange(HttpOptions options = {}, SessionFactory factory = {});
  ~PocoHttpExchange() override;
  PocoHttpExchange(const PocoHttpExchange&) = delete;
  PocoHttpExchange& operator=(const PocoHttpExchange&) = delete;

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
