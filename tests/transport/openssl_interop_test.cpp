// The transport against a TLS server that is not ours: Debian's `openssl s_server` (OpenSSL 3,
// a different TLS stack from the mbedTLS client) serving a file from a temporary folder, with the
// certificates generated at test start. The server prints "ACCEPT <addr>:<port>" once listening.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include "error_code_checks.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "temp_dir.hpp"
#include "transport_test_support.hpp"

using namespace fieldagent;
using namespace fieldagent::platform;
using fieldagent::testing::pki;
using fieldagent::testing::request;
using fieldagent::testing::sessionTo;
using fieldagent::testing::TempDir;
using fieldagent::testing::TestCert;
using fieldagent::testing::testTls;

namespace {

class OpensslServer {
 public:
  explicit OpensslServer(const TestCert& cert) {
    write(dir_ / "cert.pem", cert.certPem);
    write(dir_ / "key.pem", cert.keyPem);
    write(dir_ / "work-orders.json", R"({"items":[],"page":1,"pageSize":50,"total":0})");
    const std::vector<std::string> args{"s_server", "-accept", "127.0.0.1:0", "-cert",
                                        "cert.pem", "-key",    "key.pem",     "-WWW"};
    handle_ = std::make_unique<Poco::ProcessHandle>(
        Poco::Process::launch(FIELDAGENT_OPENSSL, args, dir_.path().string(), &input_, &output_, &output_));
    Poco::PipeInputStream out(output_);
    std::string line;
    while (std::getline(out, line)) {
      const auto at = line.rfind(':');
      if (line.rfind("ACCEPT", 0) == 0 && at != std::string::npos) {
        port_ = line.substr(at + 1);
        break;
      }
    }
  }
  ~OpensslServer() {
    if (handle_) {
      Poco::Process::kill(*handle_);
      handle_->wait();
    }
  }
  OpensslServer(const OpensslServer&) = delete;
  OpensslServer& operator=(const OpensslServer&) = delete;

  bool listening() const { return !port_.empty(); }
  std::string url(const std::string& host = "127.0.0.1") const { return "https://" + host + ":" + port_; }

 private:
  static void write(const std::filesystem::path& file, const std::string& text) { std::ofstream(file) << text; }

  TempDir dir_;
  Poco::Pipe input_;  // kept open: s_server must not see end of input
  Poco::Pipe output_;
  std::unique_ptr<Poco::ProcessHandle> handle_;
  std::string port_;
};

Result<HttpResponse> fetch(const TestCert& cert, const std::string& host = "127.0.0.1",
                           const TlsOptions& options = testTls()) {
  OpensslServer server(cert);
  REQUIRE(server.listening());
  auto session = sessionTo(server.url(host), options);
  return request(*session, "GET", "/work-orders.json");
}

}  // namespace

TEST_CASE("openssl s_server: a good chain passes, by IP address and by name", "[tls][openssl]") {
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto reply = fetch(pki().server, host);
    INFO(host << ": " << (reply.ok() ? std::string() : reply.error().message));
    REQUIRE(reply.ok());
    CHECK(reply->status == 200);
    CHECK(reply->body == R"({"items":[],"page":1,"pageSize":50,"total":0})");
  }
}

TEST_CASE("openssl s_server: an expired certificate fails with a clear error", "[tls][openssl]") {
  auto reply = fetch(pki().expired);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_expired");
  CHECK_THAT(reply.error().message, Catch::Contains("has expired"));
}

TEST_CASE("openssl s_server: a certificate for another host name fails with a clear error", "[tls][openssl]") {
  auto reply = fetch(pki().otherName, "localhost");
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_hostname_mismatch");
  CHECK_THAT(reply.error().message, Catch::Contains("does not name the host localhost"));
}

TEST_CASE("openssl s_server: a self-signed certificate fails with a clear error", "[tls][openssl]") {
  auto reply = fetch(pki().selfSigned);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_untrusted");
  CHECK_THAT(reply.error().message, Catch::Contains("self-signed"));
}

TEST_CASE("openssl s_server: a certificate from an unknown CA fails with a clear error", "[tls][openssl]") {
  auto reply = fetch(pki().fromUnknownCa);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().code == "tls_untrusted");
  CHECK_THAT(reply.error().message, Catch::Contains("unknown CA"));
}

TEST_CASE("openssl s_server: a pin mismatch fails with a clear error, a matching pin passes", "[tls][openssl][pin]") {
  TlsOptions pinned = testTls();
  pinned.pinnedPublicKeys = {base64Encode(sha256(pki().server.spkiDer))};
  auto good = fetch(pki().server, "127.0.0.1", pinned);
  REQUIRE(good.ok());

  pinned.pinnedPublicKeys = {base64Encode(sha256(pki().fromUnknownCa.spkiDer))};
  auto bad = fetch(pki().server, "127.0.0.1", pinned);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == "tls_pin_mismatch");
  CHECK_THAT(bad.error().message, Catch::Contains("does not match the pinned key"));
}
