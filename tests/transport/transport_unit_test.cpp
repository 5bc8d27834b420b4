// The parts of the transport that need no server: base URLs, options, classification, dates.
#include <catch2/catch.hpp>

#include <Poco/Net/NetException.h>

#include "error_code_checks.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "fieldagent/platform/tls.hpp"

using namespace fieldagent;
using namespace fieldagent::platform;

TEST_CASE("a base URL keeps its path prefix and gets the scheme's port", "[transport][url]") {
  auto url = parseBaseUrl("https://api.supergood.ai/integrations/int_42/");
  REQUIRE(url.ok());
  CHECK(url->scheme == "https");
  CHECK(url->host == "api.supergood.ai");
  CHECK(url->port == 443);
  CHECK(url->pathPrefix == "/integrations/int_42");
  CHECK(url->toString() == "https://api.supergood.ai/integrations/int_42");
  CHECK_FALSE(url->loopback());

  auto sim = parseBaseUrl("http://127.0.0.1:8080");
  REQUIRE(sim.ok());
  CHECK(sim->port == 8080);
  CHECK(sim->pathPrefix.empty());
  CHECK(sim->loopback());

  auto v6 = parseBaseUrl("HTTPS://[::1]:8443/api");
  REQUIRE(v6.ok());
  CHECK(v6->scheme == "https");
  CHECK(v6->host == "::1");
  CHECK(v6->loopback());
  CHECK(v6->toString() == "https://[::1]:8443/api");
}

TEST_CASE("a base URL that cannot be one is refused with the reason", "[transport][url]") {
  for (const char* text :
       {"", "api.example.com", "ftp://api.example.com", "https://", "https://user:pw@api.example.com",
        "https://api.example.com/x?debug=1", "https://api.example.com/#top", "https://api.example.com:0",
        "https://api.example.com:99999", "https://api example.com", "https://api.example.com/\n"}) {
    INFO("'" << text << "'");
    auto url = parseBaseUrl(text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == "bad_url");
  }
}

// The fuzz finding of issue 24 (tests/fuzz/corpus/http_headers/base-url-ipv6-bracket-in-host):
// Poco::URI took "[[ov1]8443" as a host, and what was printed of it did not parse again.
TEST_CASE("a host is a name, an IPv4 address or a bracketed IPv6 literal, and nothing else", "[transport][url]") {
  auto v6 = parseBaseUrl("https://[::1]:8443/x");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8443);
  CHECK(v6->toString() == "https://[::1]:8443/x");

  for (const char* text : {"https://upstream-1.example.com:8443/a/b", "https://10.0.0.7/api", "http://[2001:db8::7]/",
                           "https://xn--bcher-kva.example/"}) {
    INFO("'" << text << "'");
    auto url = parseBaseUrl(text);
    REQUIRE(url.ok());
    auto again = parseBaseUrl(url->toString());
    REQUIRE(again.ok());
    CHECK(again->toString() == url->toString());
  }

  struct Refused {
    const char* text;
    const char* names;  // the part of the message that says what is wrong
  };
  for (const Refused& r : {Refused{"HTTPS://[[ov1]8443/api", "not an IPv6 address"},
                           Refused{"https://[[::1]]/", "not an IPv6 address"},
                           Refused{"https://a b/", "spaces"},
                           Refused{"https://host:99999/", "port"},
                           Refused{"https://[ov1]/", "not an IPv6 address"},
                           Refused{"https://[::1]8443/", "after the IPv6 address"},
                           Refused{"https://[::1/", "without its ']'"},
                           Refused{"https://host:/", "no port"},
                           Refused{"https://host:+80/", "port"},
                           Refused{"https://ho_st/", "'_'"},
                           Refused{"https://-host/", "hyphen"},
                           Refused{"https://a..b/", "empty label"},
                           Refused{"https://b\xc3\xbc" "cher.example/", "xn--"},
                           Refused{"https://host/a%zz", "'%'"},
                           Refused{"https://host/a\"b", "path"}}) {
    INFO("'" << r.text << "'");
    auto url = parseBaseUrl(r.text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == "bad_url");
    CHECK_THAT(url.error().message, Catch::Matchers::Contains(r.names));
  }
}

TEST_CASE("plain http:// is used on loopback only, unless allowed", "[transport][url]") {
  TlsOptions options;
  options.caBundleFile = "/nonexistent/ca.pem";  // http:// never needs it
  CHECK(HttpTransport(options).newSession(parseBaseUrl("http://localhost:9000").value()).ok());
  CHECK(HttpTransport(options).newSession(parseBaseUrl("http://127.0.0.1:9000").value()).ok());
  auto remote = HttpTransport(options).newSession(parseBaseUrl("http://api.example.com").value());
  REQUIRE_FALSE(remote.ok());
  CHECK(remote.error().code == "insecure_url");

  options.allowPlainHttpBeyondLoopback = true;
  CHECK(HttpTransport(options).newSession(parseBaseUrl("http://api.example.com").value()).ok());
}

TEST_CASE("the system CA bundle is the default trust", "[transport][tls]") {
  auto context = TlsClientContext::create(TlsOptions{});
  REQUIRE(context.ok());
  CHECK(std::string((*context)->options().caBundleFile) == kSystemCaBundle);
  CHECK((*context)->trustedCaCount() > 50);  // Debian's ca-certificates holds well over a hundred roots

  TlsOptions folder;
  folder.caBundleFile = "/etc/ssl/certs";
  auto fromFolder = TlsClientContext::create(folder);
  REQUIRE(fromFolder.ok());
  CHECK((*fromFolder)->trustedCaCount() >= (*context)->trustedCaCount());
}

TEST_CASE("unusable trust settings are refused when the transport is made", "[transport][tls]") {
  TlsOptions missing;
  missing.caBundleFile = "/nonexistent/ca.pem";
  auto noFile = TlsClientContext::create(missing);
  REQUIRE_FALSE(noFile.ok());
  CHECK(noFile.error().code == "tls_config");
  CHECK_THAT(noFile.error().message, Catch::Contains("/nonexistent/ca.pem"));

  TlsOptions garbage;
  garbage.customCaPem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
  auto bad = TlsClientContext::create(garbage);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "tls_config");

  for (const char* pin : {"abc", "zz00000000000000000000000000000000000000000000000000000000000000",
                          "c2hvcnQ=" /* base64 of 5 bytes */}) {
    TlsOptions pinned;
    pinned.pinnedPublicKeys = {pin};
    auto result = TlsClientContext::create(pinned);
    INFO(pin);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == "tls_config");
    CHECK_THAT(result.error().message, Catch::Contains("pin"));
  }

  const HttpTransport transport(missing);
  CHECK(transport.loadTrust().error().code == "tls_config");
  auto https = transport.newSession(parseBaseUrl("https://api.example.com").value());
  REQUIRE_FALSE(https.ok());
  CHECK(https.error().code == "tls_config");
}

TEST_CASE("a TLS socket refuses what would send bytes outside the TLS session", "[transport][tls]") {
  auto context = TlsClientContext::create(TlsOptions{});
  REQUIRE(context.ok());
  Poco::Net::StreamSocket socket = makeTlsSocket(std::move(context).value(), "api.example.com");
  // A non-blocking connect would return before the handshake; urgent data is never encrypted.
  CHECK_THROWS_AS(socket.connectNB(Poco::Net::SocketAddress("127.0.0.1", 9)), Poco::InvalidAccessException);
  CHECK_THROWS_AS(socket.sendUrgent(1), Poco::InvalidAccessException);
}

TEST_CASE("transport failures are classified as transient or permanent", "[transport][classify]") {
  const auto classify = [](const Poco::Exception& e) {
    const Error error = transportError(e);
    return std::make_pair(error.code.str(), isTransientTransportError(error));
  };
  using P = std::pair<std::string, bool>;
  CHECK(classify(Poco::TimeoutException("read")) == P{"transport_timeout", true});
  CHECK(classify(Poco::Net::ConnectionRefusedException("127.0.0.1:1")) == P{"transport_failed", true});
  CHECK(classify(Poco::Net::ConnectionResetException("peer")) == P{"transport_failed", true});
  CHECK(classify(Poco::Net::HostNotFoundException("api.example.com")) == P{"transport_failed", true});
  CHECK(classify(Poco::Net::NoMessageException()) == P{"transport_failed", true});
  CHECK(classify(TlsException(TlsFailure::handshake_timeout, "slow")) == P{"tls_handshake_timeout", true});
  CHECK(classify(TlsException(TlsFailure::handshake_failed, "alert")) == P{"tls_handshake", true});
  CHECK(classify(TlsException(TlsFailure::untrusted, "ca")) == P{"tls_untrusted", false});
  CHECK(classify(TlsException(TlsFailure::expired, "old")) == P{"tls_expired", false});
  CHECK(classify(TlsException(TlsFailure::not_yet_valid, "new")) == P{"tls_not_yet_valid", false});
  CHECK(classify(TlsException(TlsFailure::hostname_mismatch, "name")) == P{"tls_hostname_mismatch", false});
  CHECK(classify(TlsException(TlsFailure::pin_mismatch, "pin")) == P{"tls_pin_mismatch", false});
  CHECK(classify(TlsException(TlsFailure::protocol, "tls1.1")) == P{"tls_protocol", false});
  CHECK(classify(Poco::InvalidArgumentException("misuse")) == P{"internal", false});

  // A TLS failure kept by a Poco session and rethrown from there keeps its kind.
  const TlsException original(TlsFailure::pin_mismatch, "pin");
  std::unique_ptr<Poco::Exception> kept(original.clone());
  try {
    kept->rethrow();
    FAIL("rethrow() returned");
  } catch (const Poco::Exception& e) {
    CHECK(transportError(e).code == "tls_pin_mismatch");
    CHECK(transportError(e).message == "pin");
  }
}

TEST_CASE("HTTP dates are read in all three forms and garbage is refused", "[transport][date]") {
  WallTime expected;
  REQUIRE(parseIso8601("1994-11-06T08:49:37Z", expected));
  CHECK(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == expected);
  CHECK(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT") == expected);
  CHECK(parseHttpDate("Sun Nov  6 08:49:37 1994") == expected);
  WallTime leapDay;
  REQUIRE(parseIso8601("2024-02-29T23:59:59Z", leapDay));
  CHECK(parseHttpDate("Thu, 29 Feb 2024 23:59:59 GMT") == leapDay);
  for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994", "Sun, 32 Nov 1994 08:49:37 GMT",
                          "Wed, 29 Feb 2023 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                          "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT trailing", "\xff\xfe",
                          "Mon, 01 Jan 0001 00:00:00 GMT"}) {  // beyond the clock (fuzzing)
    INFO(bad);
    CHECK_FALSE(parseHttpDate(bad).has_value());
  }
}

TEST_CASE("a URL without a path is requested as / with its query", "[transport][url]") {
  // Found by fuzzing: "http://host?x=1" gave the request target "?x=1".
  auto split = splitUrl("http://uploads.example?sig=1");
  REQUIRE(split.ok());
  CHECK(split->second == "/?sig=1");
  CHECK(splitUrl("http://uploads.example")->second == "/");
  CHECK(splitUrl("https://uploads.example/files/a?sig=1")->second == "/files/a?sig=1");
}

TEST_CASE("a request URL's host is read as strictly as the base URL's, and its target is kept as given",
          "[transport][url]") {
  auto signed_ = splitUrl("HTTPS://[::1]:8443/files/a%2Fb?sig=x%2By&exp=1#frag");
  REQUIRE(signed_.ok());
  CHECK(signed_->first.scheme == "https");
  CHECK(signed_->first.host == "::1");
  CHECK(signed_->first.port == 8443);
  CHECK(signed_->second == "/files/a%2Fb?sig=x%2By&exp=1");  // escapes untouched, no fragment
  CHECK(splitUrl("http://h/a b").error().code == "bad_url");
  CHECK(splitUrl("http://h/a\"b")->second == "/a%22b");
  for (const char* bad : {"https://[[ov1]8443/x", "https://user@host/x", "https://host:0/x", "https://ho_st/x",
                          "https://host/a%zz", "ftp://host/x"}) {
    INFO(bad);
    auto split = splitUrl(bad);
    REQUIRE_FALSE(split.ok());
    CHECK(split.error().code == "bad_url");
  }
}
