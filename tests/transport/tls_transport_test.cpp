// The mbedTLS transport against a real TLS server on loopback (tls_test_server, built on mbedTLS
// directly): what a request sees, what a connection costs, and how each refusal reads.
#include <catch2/catch.hpp>

#include <iterator>
#include <string>
#include <vector>

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include "error_code_checks.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "tls_test_server.hpp"
#include "transport_test_support.hpp"

using namespace fieldagent;
using namespace fieldagent::platform;
using fieldagent::testing::pki;
using fieldagent::testing::request;
using fieldagent::testing::sessionTo;
using fieldagent::testing::TestCert;
using fieldagent::testing::testTls;
using fieldagent::testing::TlsTestServer;
using HoldPoint = TlsTestServer::HoldPoint;

namespace {

TlsTestServer::Options serving(const TestCert& cert) { return {cert.certPem, cert.keyPem}; }

// What a client that trusts the test CA is told when it asks `host` served with `cert`.
Error refusal(const TestCert& cert, const std::string& host = "127.0.0.1", const TlsOptions& options = testTls()) {
  TlsTestServer server(serving(cert));
  auto session = sessionTo(server.url(host), options);
  auto reply = request(*session, "GET", "/work-orders");
  REQUIRE_FALSE(reply.ok());
  CHECK(server.handshakes() == 0);
  CHECK(server.requests() == 0);
  return reply.error();
}

}  // namespace

TEST_CASE("GET and POST go through a plain Poco HTTPClientSession over TLS", "[tls]") {
  TlsTestServer server(serving(pki().server));
  auto made = HttpTransport(testTls()).newSession(parseBaseUrl(server.url()).value());
  REQUIRE(made.ok());
  auto session = std::move(made).value();

  Poco::Net::HTTPRequest post(Poco::Net::HTTPRequest::HTTP_POST, "/work-orders/wo-1/status",
                              Poco::Net::HTTPMessage::HTTP_1_1);
  const std::string body = R"({"status":"en_route"})";
  post.setContentLength(static_cast<std::streamsize>(body.size()));
  post.setContentType("application/json");
  session->sendRequest(post) << body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session->receiveResponse(response);
  const std::string answer{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK);
  CHECK(answer == "POST /work-orders/wo-1/status\n" + body);

  Poco::Net::HTTPRequest get(Poco::Net::HTTPRequest::HTTP_GET, "/work-orders?page=2", Poco::Net::HTTPMessage::HTTP_1_1);
  session->sendRequest(get);
  Poco::Net::HTTPResponse second;
  std::istream& secondIn = session->receiveResponse(second);
  const std::string secondAnswer{std::istreambuf_iterator<char>(secondIn), std::istreambuf_iterator<char>()};
  CHECK(second.getStatus() == Poco::Net::HTTPResponse::HTTP_OK);
  CHECK(secondAnswer == "GET /work-orders?page=2\n");
}

TEST_CASE("the certificate's DNS name is accepted when the host is named", "[tls]") {
  TlsTestServer server(serving(pki().server));
  auto session = sessionTo(server.url("localhost"));
  auto reply = request(*session, "GET", "/");
  REQUIRE(reply.ok());
  CHECK(reply->status == 200);
}

TEST_CASE("two requests on one session share one connection and one handshake", "[tls]") {
  TlsTestServer server(serving(pki().server));
  auto session = sessionTo(server.url());
  auto first = request(*session, "GET", "/a");
  auto second = request(*session, "POST", "/b", "{}");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->header("X-Connection") == "1");
  CHECK(second->header("X-Request") == "2");
  CHECK(server.accepted() == 1);
  CHECK(server.handshakes() == 1);
}

TEST_CASE("a kept-alive connection the server dropped while idle is replaced by a fresh handshake", "[tls]") {
  TlsTestServer::Options options = serving(pki().server);
  options.closeAfterAnswers = 1;
  TlsTestServer server(options);
  auto session = sessionTo(server.url());
  auto first = request(*session, "GET", "/work-orders");
  REQUIRE(first.ok());
  REQUIRE(server.awaitClosedConnections(1));

  auto second = request(*session, "POST", "/work-orders/wo-1/consumptions", R"({"parts":[]})");
  REQUIRE(second.ok());
  CHECK(second->body == "POST /work-orders/wo-1/consumptions\n{\"parts\":[]}");
  CHECK(second->header("X-Connection") == "2");
  CHECK(server.accepted() == 2);
  CHECK(server.handshakes() == 2);
  CHECK(server.requests() == 2);  // the request was sent once, on the new connection
}

TEST_CASE("an answer with Connection: close makes the next request reconnect", "[tls]") {
  TlsTestServer server(serving(pki().server));
  auto session = sessionTo(server.url());
  REQUIRE(request(*session, "GET", "/bye").ok());
  auto next = request(*session, "GET", "/work-orders");
  REQUIRE(next.ok());
  CHECK(next->header("X-Connection") == "2");
  CHECK(server.handshakes() == 2);
}

TEST_CASE("a server certificate from an unknown CA is refused", "[tls]") {
  const Error error = refusal(pki().fromUnknownCa);
  CHECK(error.code == "tls_untrusted");
  CHECK_THAT(error.message, Catch::Contains("not issued by a trusted CA"));
  CHECK_FALSE(isTransientTransportError(error));
}

TEST_CASE("a self-signed server certificate is refused", "[tls]") {
  const Error error = refusal(pki().selfSigned);
  CHECK(error.code == "tls_untrusted");
  CHECK_FALSE(isTransientTransportError(error));
}

TEST_CASE("an expired server certificate is refused", "[tls]") {
  const Error error = refusal(pki().expired);
  CHECK(error.code == "tls_expired");
  CHECK_THAT(error.message, Catch::Contains("expired"));
  CHECK_FALSE(isTransientTransportError(error));
}

TEST_CASE("a server certificate that is not valid yet is refused", "[tls]") {
  const Error error = refusal(pki().notYetValid);
  CHECK(error.code == "tls_not_yet_valid");
  CHECK_THAT(error.message, Catch::Contains("clock"));
}

TEST_CASE("a certificate for another host name is refused for an IP address", "[tls]") {
  const Error error = refusal(pki().otherName, "127.0.0.1");
  CHECK(error.code == "tls_hostname_mismatch");
  CHECK_THAT(error.message, Catch::Contains("IP address 127.0.0.1"));
  CHECK_FALSE(isTransientTransportError(error));
}

TEST_CASE("a certificate for another host name is refused for a DNS name", "[tls]") {
  const Error error = refusal(pki().otherName, "localhost");
  CHECK(error.code == "tls_hostname_mismatch");
  CHECK_THAT(error.message, Catch::Contains("host localhost"));
}

TEST_CASE("a certificate naming only the DNS name does not pass for its IP address", "[tls]") {
  // IP addresses match iPAddress entries only, never a DNS name or CN that happens to read alike.
  auto dnsOnly = pki().trustedCa.issue({"127.0.0.1", {"127.0.0.1"}, {}, -1, 30});
  const Error error = refusal(dnsOnly, "127.0.0.1");
  CHECK(error.code == "tls_hostname_mismatch");
}

TEST_CASE("a pinned public key is accepted in hex and base64, another key is refused", "[tls][pin]") {
  const std::string digest = sha256(pki().server.spkiDer);

  for (const std::string& pin : {hexEncode(digest), base64Encode(digest), "sha256/" + base64Encode(digest)}) {
    TlsOptions options = testTls();
    options.pinnedPublicKeys = {pin};
    TlsTestServer server(serving(pki().server));
    auto session = sessionTo(server.url(), options);
    auto reply = request(*session, "GET", "/");
    INFO("pin " << pin);
    REQUIRE(reply.ok());
    CHECK(reply->status == 200);
  }

  TlsOptions pinnedElsewhere = testTls();
  pinnedElsewhere.pinnedPublicKeys = {hexEncode(sha256(pki().otherName.spkiDer))};
  const Error error = refusal(pki().server, "127.0.0.1", pinnedElsewhere);  // chain and name are good
  CHECK(error.code == "tls_pin_mismatch");
  CHECK_THAT(error.message, Catch::Contains("pinned"));
  CHECK_FALSE(isTransientTransportError(error));
}

TEST_CASE("a server that speaks only TLS 1.1 is refused", "[tls]") {
  TlsTestServer::Options options = serving(pki().server);
  options.tls11Only = true;
  TlsTestServer server(options);
  auto session = sessionTo(server.url());
  auto reply = request(*session, "GET", "/");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_protocol");
  CHECK_THAT(reply.error().message, Catch::Contains("TLS 1.2"));
  CHECK(server.handshakes() == 0);
}

TEST_CASE("a server that stalls its answer ends the request with a read timeout", "[tls][timeout]") {
  TlsTestServer server(serving(pki().server));
  server.hold(HoldPoint::before_answering);
  TlsOptions options = testTls();
  options.readTimeout = std::chrono::milliseconds(200);
  auto session = sessionTo(server.url(), options);

  auto reply = request(*session, "GET", "/work-orders");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "transport_timeout");
  CHECK(isTransientTransportError(reply.error()));
  CHECK(server.requests() == 1);

  server.release();
  auto retry = request(*session, "GET", "/work-orders");
  REQUIRE(retry.ok());
  CHECK(retry->header("X-Connection") == "2");  // the timed-out connection is not reused
}

TEST_CASE("a server that stops reading ends a large upload with a write timeout", "[tls][timeout]") {
  TlsTestServer server(serving(pki().server));
  server.hold(HoldPoint::before_reading_request);
  TlsOptions options = testTls();
  options.writeTimeout = std::chrono::milliseconds(200);
  auto session = sessionTo(server.url(), options);

  // More than the socket buffers of both ends can take, so the sender has to wait.
  const std::string photo(std::size_t{64} << 20, 'p');
  auto reply = request(*session, "POST", "/uploads/upl_1", photo);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "transport_timeout");
  REQUIRE(server.awaitHeld());
  server.release();
}

TEST_CASE("a server that never answers the handshake ends it with a handshake timeout", "[tls][timeout]") {
  // A listening socket that never accepts: the kernel completes the TCP connection, nobody speaks TLS.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  TlsOptions options = testTls();
  options.handshakeTimeout = std::chrono::milliseconds(200);
  auto session = sessionTo("https://127.0.0.1:" + std::to_string(silent.address().port()), options);
  auto reply = request(*session, "GET", "/");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_handshake_timeout");
  CHECK_THAT(reply.error().message, Catch::Contains("handshake"));
  CHECK(isTransientTransportError(reply.error()));
  silent.close();
}

TEST_CASE("a refused connection is a transient transport failure", "[tls]") {
  Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::string url = "https://127.0.0.1:" + std::to_string(probe.address().port());
  probe.close();
  auto session = sessionTo(url);
  auto reply = request(*session, "GET", "/");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "transport_failed");
  CHECK(isTransientTransportError(reply.error()));
}

TEST_CASE("the server's Date header is readable from the reply", "[tls]") {
  TlsTestServer server(serving(pki().server));
  auto session = sessionTo(server.url());
  auto reply = request(*session, "GET", "/sessions");
  REQUIRE(reply.ok());
  CHECK(reply->header("date") == fieldagent::testing::kTestServerDate);
  WallTime expected;
  REQUIRE(parseIso8601("2026-01-21T13:00:00Z", expected));
  REQUIRE(reply->date().has_value());
  CHECK(*reply->date() == expected);
}

TEST_CASE("plain http:// on loopback keeps its connection alive too", "[http]") {
  TlsTestServer server(TlsTestServer::Options{});
  auto session = sessionTo(server.url());
  auto first = request(*session, "GET", "/work-orders");
  auto second = request(*session, "GET", "/customers");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->body == "GET /customers\n");
  CHECK(server.accepted() == 1);
}

TEST_CASE("the sync layer's PocoHttpExchange speaks https through the transport's session factory", "[tls][exchange]") {
  TlsTestServer server(serving(pki().server));
  PocoHttpExchange exchange(HttpOptions{}, sessionFactory(std::make_shared<const HttpTransport>(testTls())));
  auto first = exchange.exchange({"GET", server.url() + "/work-orders?page=1", {}, ""});
  auto second = exchange.exchange({"POST", server.url() + "/work-orders/wo-1/status", {}, R"({"status":"on_site"})"});
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(second->body == "POST /work-orders/wo-1/status\n{\"status\":\"on_site\"}");
  CHECK(server.handshakes() == 1);  // the exchange's pool reuses the kept-alive TLS connection
}

TEST_CASE("PocoHttpExchange reports a refused certificate with its own permanent code", "[tls][exchange]") {
  TlsTestServer server(serving(pki().expired));
  PocoHttpExchange exchange(HttpOptions{}, sessionFactory(std::make_shared<const HttpTransport>(testTls())));
  auto reply = exchange.exchange({"GET", server.url() + "/work-orders", {}, ""});
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_expired");
  CHECK(isPermanentTransportError(reply.error()));
  CHECK_THAT(reply.error().message, Catch::Contains("has expired"));
}

TEST_CASE("a connection that is not accepted in time ends with a connect timeout", "[tls][timeout]") {
  // A listener whose accept queue is full: the kernel drops further SYNs, so a connect waits
  // (the same as a host that does not answer, without leaving loopback).
  Poco::Net::ServerSocket full(Poco::Net::SocketAddress("127.0.0.1", 0), 1);
  std::vector<Poco::Net::StreamSocket> queued;
  bool queueFull = false;
  for (int i = 0; i < 64 && !queueFull; ++i) {
    Poco::Net::StreamSocket filler;
    try {
      filler.connect(full.address(), Poco::Timespan(0, 200'000));
      queued.push_back(filler);
    } catch (const Poco::TimeoutException&) {
      queueFull = true;
    }
  }
  REQUIRE(queueFull);

  TlsOptions options = testTls();
  options.connectTimeout = std::chrono::milliseconds(200);
  auto session = sessionTo("https://127.0.0.1:" + std::to_string(full.address().port()), options);
  auto reply = request(*session, "GET", "/");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "transport_timeout");
  CHECK_THAT(reply.error().message, Catch::Contains("connect timed out"));
  CHECK(isTransientTransportError(reply.error()));
}
