// The agent built as the daemon builds it (the real exchange over the mbedTLS transport), on a
// fake clock, against a real TLS server on loopback whose certificate the agent must not trust:
// the refusal reaches the status the technician sees with its own code, and the sync loop does
// not retry it on the transient schedule — it waits on the slow one, and tries again at once
// when connectivity changes.
#include <chrono>
#include <fstream>
#include <vector>

#include <catch2/catch.hpp>

#include "fieldagent/agent/agent.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "loop_step.hpp"
#include "temp_dir.hpp"
#include "tls_test_server.hpp"
#include "transport_test_support.hpp"

using namespace fieldagent;
using namespace fieldagent::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A technician who signed in earlier: the session the agent restores at open, valid for a month
// (no renewal falls due while the test runs).
void storeSignedInSession(const std::filesystem::path& dataDir, platform::WallTime now) {
  REQUIRE(platform::fs::ensureDir(dataDir, 0700).ok());
  platform::FileKeyStore keys(dataDir / "keys" / "data.key", platform::systemEntropy());
  auto secrets = storage::SecretStore::open(dataDir / "secrets.bin", keys, platform::systemEntropy());
  REQUIRE(secrets.ok());
  REQUIRE((*secrets)->put(storage::secret::kSessionToken, "tok_signed_in_earlier").ok());
  REQUIRE((*secrets)->put(sync::secret::kSessionExpiresAt, platform::formatIso8601(now + 24h * 30)).ok());
  REQUIRE((*secrets)->put(sync::secret::kSessionUser,
                          json{{"id", "u_1"}, {"technicianId", "tech_1"}, {"entitlements", {"workOrders"}}}.dump())
              .ok());
}

struct TlsRig {
  // The server's certificate comes from a CA the agent does not trust (as behind a network that
  // intercepts TLS, or after upstream changed its CA).
  TlsTestServer server{{pki().fromUnknownCa.certPem, pki().fromUnknownCa.keyPem}};
  TempDir dir;
  platform::FakeClock clock{platform::SystemClock().now()};
  platform::FakeConnectivity net{{true, false, "eth0"}};
  std::unique_ptr<agent::Agent> agent;

  TlsRig() {
    std::ofstream(dir / "trusted-ca.pem") << pki().trustedCa.certPem();
    agent::Config cfg;
    cfg.upstreamBaseUrl = server.url() + "/integrations/int_1";
    cfg.upstreamIntegrationToken = "x";
    cfg.tlsCaBundle = (dir / "trusted-ca.pem").string();
    cfg.mfaMethod = "none";
    cfg.dataDir = dir / "data";
    cfg.pullInterval = 300s;
    cfg.pushInterval = 60s;
    storeSignedInSession(cfg.dataDir, clock.now());
    // No exchange given: the agent makes the production one (PocoHttpExchange over HttpTransport).
    auto opened = agent::Agent::open(cfg, clock, net, platform::systemEntropy());
    REQUIRE(opened.ok());
    agent = std::move(opened).value();
  }
  ~TlsRig() {
    if (agent) agent->stop();
  }

  template <class F>
  void step(F action) {
    stepLoop(clock, action);
  }
};

}  // namespace

TEST_CASE("a certificate failure reaches the status as its own code and waits on the slow schedule",
          "[agent][loop][tls]") {
  TlsRig rig;
  REQUIRE(rig.agent->status()["session"]["state"] == "active");  // restored at open
  rig.agent->start();
  rig.clock.awaitWaiters(1);  // the first round, with its pull, is over
  REQUIRE(rig.server.accepted() == 1);
  CHECK(rig.server.handshakes() == 0);
  CHECK(rig.server.requests() == 0);

  // What GET /agent/status answers (the route returns Agent::status()).
  const json status = rig.agent->status();
  CHECK(status["lastPull"]["error"] == "tls_untrusted");
  CHECK_THAT(status["lastPull"].value("outcome", ""), Catch::StartsWith("tls_untrusted: "));
  CHECK_THAT(status["lastPull"].value("outcome", ""), Catch::Contains("not issued by a trusted CA"));
  CHECK(status["session"]["state"] == "active");  // nothing is wrong with the session

  // One hour of fake time, stepping from each of the loop's deadlines to the next; the
  // connection attempts the server sees, and when.
  std::vector<std::chrono::seconds> attempts{0s};
  const auto start = rig.clock.monotonic();
  int seen = rig.server.accepted();
  while (rig.clock.monotonic() - start < 60min) {
    rig.step([&] {
      const auto next = rig.clock.untilNextDeadline();
      REQUIRE(next);
      rig.clock.advance(std::max<std::chrono::nanoseconds>(*next, 1ms));
    });
    if (rig.server.accepted() > seen) {
      seen = rig.server.accepted();
      attempts.push_back(std::chrono::duration_cast<std::chrono::seconds>(rig.clock.monotonic() - start));
    }
  }
  INFO("attempts at (s):" << [&] {
    std::string t;
    for (auto a : attempts) t += " " + std::to_string(a.count());
    return t;
  }());
  // The transient schedule (30 s doubling to the 300 s pull interval) would have made about 15
  // attempts in the hour; the slow one makes one every 15 minutes: at 0, 15, 30, 45 and 60.
  CHECK(attempts.size() >= 4);
  CHECK(attempts.size() <= 5);
  for (std::size_t i = 1; i < attempts.size(); ++i) CHECK(attempts[i] - attempts[i - 1] >= sync::tuning::kBlockedRetry);
  CHECK(rig.server.handshakes() == 0);
  CHECK(rig.agent->status()["lastPull"]["error"] == "tls_untrusted");

  // The device changes network (another network may not intercept TLS): the agent tries again at
  // once, without the clock moving.
  const auto mono = rig.clock.monotonic();
  const int before = rig.server.accepted();
  rig.clock.awaitWaiters(1);
  rig.net.set({false, false, ""});
  rig.step([&] { rig.net.set({true, false, "wlan0"}); });
  CHECK(rig.server.accepted() == before + 1);
  CHECK(rig.clock.monotonic() == mono);
  CHECK(rig.agent->status()["lastPull"]["error"] == "tls_untrusted");
}
