#pragma once
// Shared by the transport tests: the certificates (made once per process: key generation is the
// slow part) and short ways to open a session and make one request.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>

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

inline std::unique_ptr<Poco::Net::HTTPClientSession> sessionTo(const std::string& url,
                                                               const platform::TlsOptions& options = testTls()) {
  auto base = platform::parseBaseUrl(url);
  REQUIRE(base.ok());
  auto session = platform::makeHttpSession(*base, options);
  REQUIRE(session.ok());
  return std::move(session).value();
}

inline Result<platform::HttpReply> request(Poco::Net::HTTPClientSession& session, const std::string& method,
                                           const std::string& path, const std::string& body = {}) {
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  return platform::roundTrip(session, req, body);
}

}  // namespace fieldagent::testing
