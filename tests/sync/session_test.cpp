// Signing in against the reference upstream: TOTP, SMS, a skewed device clock, renewal before
// expiry and after a 401, and what a refusal leaves behind.
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/files.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::SyncFixture;
using namespace std::chrono_literals;

TEST_CASE("a technician signs in with TOTP and the session survives a restart", "[session]") {
  SyncFixture f;
  const auto& tech = f.technician();
  auto& session = f.as(tech);
  REQUIRE(session.signIn().ok());
  const auto status = session.status();
  CHECK(status.state == SessionState::active);
  CHECK(status.user.technicianId == *tech.technicianId);
  CHECK(status.user.entitled("workOrders"));
  CHECK(session.requireEntitlement("dispatch").error().code == "forbidden");
  const std::string token = session.token();
  CHECK_FALSE(token.empty());
  REQUIRE(f.client.getWorkOrder("wo_1f92a0").status != 401);

  // The token is kept sealed: neither it nor the TOTP secret is readable in the file.
  const auto sealed = platform::fs::readFile(f.dir / "data" / "secrets.bin").value();
  CHECK(sealed.find(token) == std::string::npos);
  CHECK(sealed.find(tech.totpSecret) == std::string::npos);
  CHECK(sealed.find(tech.password) == std::string::npos);

  // A new manager (the agent restarted in a dead zone) picks the session up without a call.
  SessionManager restarted(f.client, *f.secrets, f.clock, {tech.tenant, "totp"});
  CHECK(restarted.restore() == SessionState::active);
  CHECK(restarted.token() == token);
  CHECK(restarted.status().user.technicianId == *tech.technicianId);
}

TEST_CASE("a device clock ten minutes fast still produces an accepted TOTP code", "[session]") {
  SyncFixture f;
  f.clock.setWall(f.clock.now() + 10min);
  auto& session = f.as(f.technician());
  REQUIRE(session.signIn().ok());
  CHECK(session.status().state == SessionState::active);
  REQUIRE(f.client.serverClockOffset().has_value());
  CHECK(std::chrono::abs(*f.client.serverClockOffset() + 600s) < 5s);
}

TEST_CASE("SMS and email challenges wait for the technician's code", "[session]") {
  SyncFixture f;
  const auto& tech = f.sim.user(GENERATE(std::string("sms"), std::string("email")));
  auto& session = f.as(tech);
  auto first = session.signIn();
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().code == "mfa_pending");
  CHECK(session.status().state == SessionState::mfaPending);
  CHECK_FALSE(session.status().deliveredTo.empty());

  auto wrong = session.answerChallenge("000000");
  CHECK(wrong.error().code == "invalid_mfa_code");
  CHECK(session.status().state == SessionState::mfaPending);  // the challenge stays open

  const auto challenges = f.sim.admin("GET", "/mfa-challenges").json();
  std::string code;
  for (const auto& c : challenges["items"]) {
    if (c.value("username", "") == tech.username) {
      code = c.value("code", "");  // newest first
      break;
    }
  }
  REQUIRE_FALSE(code.empty());
  REQUIRE(session.answerChallenge(code).ok());
  CHECK(session.status().state == SessionState::active);
  CHECK(session.answerChallenge(code).error().code == "no_challenge");
}

TEST_CASE("a wrong password fails clearly and sends nothing more", "[session]") {
  SyncFixture f;
  auto tech = f.technician();
  tech.password = "not-the-password";
  auto& session = f.as(tech);
  auto r = session.signIn();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "invalid_credentials");
  CHECK(session.status().state == SessionState::failed);
  CHECK_FALSE(session.status().lastError.empty());
}

TEST_CASE("missing credentials are named, not sent", "[session]") {
  SyncFixture f;
  SessionManager session(f.client, *f.secrets, f.clock, {"global-services", "totp"});
  auto r = session.signIn();
  CHECK(r.error().code == "no_credentials");
  CHECK(r.error().message.find("username") != std::string::npos);
}

TEST_CASE("the token is renewed before it expires", "[session]") {
  SyncFixture f({"--token-ttl", "600"});
  auto& session = f.as(f.technician());
  REQUIRE(session.signIn().ok());
  const std::string first = session.token();
  const auto due = session.renewalDueAt();
  REQUIRE(due.has_value());
  CHECK(*due - f.clock.now() <= 480s);  // renewal lead: 20% of 600 s
  CHECK(*due - f.clock.now() >= 470s);

  REQUIRE(session.renewIfDue().ok());  // not due yet: nothing happens
  CHECK(session.token() == first);

  f.clock.advance(481s);
  // The TOTP code of the new period must differ from the last one the server saw.
  REQUIRE(session.renewIfDue().ok());
  CHECK(session.token() != first);
  CHECK(session.status().state == SessionState::active);
}

TEST_CASE("a revoked token is replaced once and the call goes through", "[session]") {
  SyncFixture f;
  auto& session = f.as(f.technician());
  REQUIRE(session.signIn().ok());
  const std::string first = session.token();
  REQUIRE(f.sim.admin("POST", "/sessions/revoke", {{"all", true}}).status == 200);
  // The TOTP code used for the first sign-in may be refused as a replay within its period; the
  // simulator accepts the neighbouring periods, so move the device one period on.
  f.clock.advance(30s);
  auto wo = f.client.getWorkOrder("wo_1f92a0");
  CHECK(wo.status != 401);
  CHECK(wo.outcome != Outcome::reauth);
  CHECK(session.token() != first);
}
