#pragma once
// The local REST API the apps on the device talk to (docs/local-api.yaml): upstream's resource
// shapes served from the cache, writes recorded offline and answered 202 with their operations,
// the agent's own status, outbox, conflicts, MFA and Server-Sent Events. Plain HTTP on loopback
// only, every request with the bearer token.
#include <cstdint>
#include <memory>
#include <string>

#include "fieldagent/agent/agent.hpp"
#include "fieldagent/agent/local_api_context.hpp"

namespace Poco::Net {
class HTTPServer;
}

namespace fieldagent::agent {

class AppIdempotency;

// What the API answered one request handled in memory (LocalApi::handle).
struct LocalReply {
  int status = 0;
  std::string contentType;
  std::string body;
};

class LocalApi {
 public:
  // Binds config.localApiBind:config.localApiPort (0: a free port). Errors: "bind".
  static Result<std::unique_ptr<LocalApi>> start(Agent& agent, std::string token);
  static Result<std::unique_ptr<LocalApi>> start(LocalApiContext context, std::string token);
  ~LocalApi();
  LocalApi(const LocalApi&) = delete;
  LocalApi& operator=(const LocalApi&) = delete;

  // An API that serves no socket: handle() runs the same token check, routing and body checks
  // as the server does for a request read from a connection (tests/fuzz drives it).
  static std::unique_ptr<LocalApi> detached(Agent& agent, std::string token);
  static std::unique_ptr<LocalApi> detached(LocalApiContext context, std::string token);
  // Handles `raw` (request line, headers, blank line, then the body) as if it had come on a
  // connection. Errors: "bad_request" when the request line or headers do not parse (the
  // server refuses those before any handler runs).
  Result<LocalReply> handle(const std::string& raw);

  std::uint16_t port() const;
  // Stops accepting, ends event streams, and waits for requests in progress.
  void stop();

 private:
  LocalApi(LocalApiContext context, std::string token);
  LocalApiContext context_;
  std::string token_;
  std::unique_ptr<AppIdempotency> idempotency_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

// The API token: config.localApiToken, else the token file, made (0600, random) at first start.
Result<std::string> apiToken(const Config& config, platform::Entropy& entropy);

}  // namespace fieldagent::agent
