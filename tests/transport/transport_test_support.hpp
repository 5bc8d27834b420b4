#pragma once
// Shared by the transport tests: the certificates (made once per process: key generation is the
// slow part) and short ways to aim the exchange at a server and make one request.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "test_pki.hpp"

namespace fieldagent::testing {

inline const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

// Trusts only the test CA; timeouts generous enough for a loaded machine, short enough that a
// hang shows up as a failure.
inline platform::TlsOptions testTls() {
  platform::TlsOptions options;
  options.customCaPem = pki().trustedCa.certPem();
  options.connectTimeout = std::chrono::seconds(5);
  options.handshakeTimeout = std::chrono::seconds(10);
  options.readTimeout = std::chrono::seconds(10);
  options.writeTimeout = std::chrono::seconds(10);
  return options;
}

// The one HTTP client path (PocoHttpExchange over the transport's sessions) aimed at one server;
// `request` takes a path on it. Its pool keeps kept-alive connections as the agent's does.
struct TestClient {
  std::string base;  // scheme://host:port
  std::unique_ptr<platform::PocoHttpExchange> exchange;
};

inline std::unique_ptr<TestClient> sessionTo(const std::string& url, const platform::TlsOptions& options = testTls()) {
  auto base = platform::parseBaseUrl(url);
  REQUIRE(base.ok());
  return std::make_unique<TestClient>(TestClient{
      base->toString(), std::make_unique<platform::PocoHttpExchange>(
                            platform::HttpOptions{},
                            platform::sessionFactory(std::make_shared<const platform::HttpTransport>(options)))});
}

inline Result<platform::HttpResponse> request(TestClient& client, const std::string& method, const std::string& path,
                                              const std::string& body = {}) {
  return client.exchange->exchange({method, client.base + path, {}, body});
}

}  // namespace fieldagent::testing
