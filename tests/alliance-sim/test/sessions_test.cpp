// POST /sessions: integration token, credentials, TOTP/SMS/email MFA, token expiry and revocation.
#include <chrono>

#include "fieldagent/platform/clock.hpp"
#include "sim_fixture.hpp"
#include "totp.hpp"

using namespace fieldagent::testing;

namespace {
std::int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(fieldagent::platform::SystemClock().now().time_since_epoch())
      .count();
}

HttpResponse postSession(SimProcess& sim, const json& body, const std::string& basic) {
  return httpCall("POST", sim.baseUrl() + "/sessions", body.dump(), {{"Authorization", "Basic " + basic}});
}

json credentials(const SimUser& u) {
  return {{"username", u.username}, {"password", u.password}, {"tenant", u.tenant}};
}
}  // namespace

TEST_CASE("a TOTP login returns a token, its lifetime and the user with entitlements", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& dispatcher = sim.user("totp", "dispatch");
  json body = credentials(dispatcher);
  body["mfa"] = {{"type", "totp"}, {"code", *totpCodeFromBase32(dispatcher.totpSecret, nowUnix())}};
  HttpResponse r = postSession(sim, body, sim.integrationToken());
  REQUIRE(r.status == 200);
  const json answer = r.json();
  CHECK(answer["authToken"].get<std::string>().rfind("eyJ", 0) == 0);
  CHECK(answer["expiresIn"] == 3600);
  CHECK(answer["user"]["id"] == "u_72c19f");
  CHECK(answer["user"]["name"] == "Service Dispatcher");
  CHECK(answer["user"]["entitlements"] == json({"customers", "workOrders", "dispatch", "inventory"}));
  CHECK_FALSE(answer["user"].contains("technicianId"));

  HttpResponse list = sim.call("GET", "/work-orders", answer["authToken"]);
  CHECK(list.status == 200);
}

TEST_CASE("a technician's session names its technician id", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& tech = sim.technicianUser();
  json body = credentials(tech);
  body["mfa"] = {{"type", "totp"}, {"code", *totpCodeFromBase32(tech.totpSecret, nowUnix())}};
  HttpResponse r = postSession(sim, body, sim.integrationToken());
  REQUIRE(r.status == 200);
  CHECK(r.json()["user"]["technicianId"] == "tech_45af1d");
}

TEST_CASE("TOTP codes of the neighbouring periods pass, older ones and wrong ones do not", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& u = sim.user("totp", "dispatch");
  auto withCode = [&](std::int64_t at) {
    json body = credentials(u);
    body["mfa"] = {{"type", "totp"}, {"code", *totpCodeFromBase32(u.totpSecret, at)}};
    return postSession(sim, body, sim.integrationToken());
  };
  // Asks again when a 30 s step boundary passed during the call, since the server then judged
  // the code against the next step.
  auto offsetBy = [&](std::int64_t offset) {
    HttpResponse r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const std::int64_t before = nowUnix();
      r = withCode(before + offset);
      if (nowUnix() / 30 == before / 30) break;
    }
    return r;
  };
  CHECK(offsetBy(-30).status == 200);
  CHECK(offsetBy(30).status == 200);
  CHECK(offsetBy(0).status == 200);
  HttpResponse old = withCode(nowUnix() - 120);
  CHECK(old.status == 401);
  CHECK(old.json()["error"] == "invalid_mfa_code");

  json body = credentials(u);
  body["mfa"] = {{"type", "totp"}, {"code", "000000x"}};
  HttpResponse wrong = postSession(sim, body, sim.integrationToken());
  CHECK(wrong.status == 401);
  CHECK(wrong.json()["error"] == "invalid_mfa_code");
}

TEST_CASE("a login without the second factor answers mfa_required with the methods", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  HttpResponse r = postSession(sim, credentials(sim.user("totp", "dispatch")), sim.integrationToken());
  REQUIRE(r.status == 401);
  CHECK(r.json()["error"] == "mfa_required");
  CHECK(r.json()["details"]["methods"] == json({"totp"}));

  HttpResponse sms = postSession(sim, credentials(sim.user("sms")), sim.integrationToken());
  CHECK(sms.json()["details"]["methods"] == json({"sms"}));
}

TEST_CASE("wrong password, tenant or user answer invalid_credentials - a wrong integration token unauthorized",
          "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& u = sim.user("none");
  json body = credentials(u);
  body["password"] = "not-" + u.password;
  HttpResponse badPassword = postSession(sim, body, sim.integrationToken());
  CHECK(badPassword.status == 401);
  CHECK(badPassword.json()["error"] == "invalid_credentials");

  body = credentials(u);
  body["tenant"] = "other-tenant";
  CHECK(postSession(sim, body, sim.integrationToken()).json()["error"] == "invalid_credentials");

  body = credentials(u);
  body["username"] = "nobody@example.com";
  CHECK(postSession(sim, body, sim.integrationToken()).json()["error"] == "invalid_credentials");

  HttpResponse badBasic = postSession(sim, credentials(u), "bm90LXRoZS10b2tlbg==");
  CHECK(badBasic.status == 401);
  CHECK(badBasic.json()["error"] == "unauthorized");

  HttpResponse missing = postSession(sim, json{{"username", u.username}}, sim.integrationToken());
  CHECK(missing.status == 400);
  CHECK(missing.json()["error"] == "invalid_request");
}

TEST_CASE("SMS and email logins go through a challenge whose code the admin API reveals", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  for (const char* method : {"sms", "email"}) {
    const SimUser& u = sim.user(method);
    json body = credentials(u);
    body["mfa"] = {{"type", method}};
    HttpResponse challenge = postSession(sim, body, sim.integrationToken());
    REQUIRE(challenge.status == 202);
    const std::string challengeId = challenge.json()["challengeId"];
    CHECK(challengeId.rfind("chl_", 0) == 0);
    const std::string deliveredTo = challenge.json()["deliveredTo"];
    CHECK(deliveredTo.find("***") != std::string::npos);
    if (std::string(method) == "sms") CHECK(deliveredTo == "***-***-1234");

    json codes = sim.admin("GET", "/mfa-challenges?username=" + u.username).json();
    REQUIRE(codes["items"].size() == 1);
    const std::string code = codes["items"][0]["code"];
    CHECK(code.size() == 6);

    body["mfa"] = {{"type", method}, {"code", code == "000000" ? "111111" : "000000"}, {"challengeId", challengeId}};
    HttpResponse wrong = postSession(sim, body, sim.integrationToken());
    CHECK(wrong.status == 401);
    CHECK(wrong.json()["error"] == "invalid_mfa_code");

    body["mfa"] = {{"type", method}, {"code", code}, {"challengeId", challengeId}};
    HttpResponse ok = postSession(sim, body, sim.integrationToken());
    REQUIRE(ok.status == 200);
    CHECK(ok.json()["user"]["technicianId"].is_string());

    // A code works once.
    HttpResponse again = postSession(sim, body, sim.integrationToken());
    CHECK(again.status == 401);
    CHECK(again.json()["error"] == "invalid_mfa_code");
  }
}

TEST_CASE("a token expires with --token-ttl on the server clock, and a new session works", "[sessions]") {
  SimProcess sim({"--seed", "5", "--token-ttl", "60"});
  const std::string token = sim.login(sim.user("none"));
  CHECK(sim.call("GET", "/work-orders/wo_1f92a0", token).status == 200);

  REQUIRE(sim.admin("POST", "/clock", {{"shiftSeconds", 61}}).status == 200);
  HttpResponse expired = sim.call("GET", "/work-orders/wo_1f92a0", token);
  CHECK(expired.status == 401);
  CHECK(expired.json()["error"] == "unauthorized");
  CHECK(expired.header("WWW-Authenticate") == "Bearer");

  const std::string fresh = sim.login(sim.user("none"));
  CHECK(sim.call("GET", "/work-orders/wo_1f92a0", fresh).status == 200);
  CHECK(sim.login(sim.user("totp", "dispatch")).size() > 20);  // TOTP follows real time, not the shifted clock
}

TEST_CASE("revoked tokens get 401 unauthorized", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& svc = sim.user("none");
  const std::string a = sim.login(svc);
  const std::string b = sim.login(sim.user("totp", "dispatch"));
  HttpResponse revoked = sim.admin("POST", "/sessions/revoke", {{"username", svc.username}});
  REQUIRE(revoked.status == 200);
  CHECK(revoked.json()["revoked"] == 1);
  CHECK(sim.call("GET", "/work-orders", a).status == 401);
  CHECK(sim.call("GET", "/work-orders", b).status == 200);

  sim.admin("POST", "/sessions/revoke", json::object());
  CHECK(sim.call("GET", "/work-orders", b).status == 401);
  CHECK(sim.call("GET", "/work-orders", "garbage").json()["error"] == "unauthorized");
  CHECK(sim.call("GET", "/work-orders", "").status == 401);
}

TEST_CASE("calls outside a user's entitlements answer 403 forbidden", "[sessions]") {
  SimProcess sim({"--seed", "5"});
  const SimUser& limited = sim.user("email");  // workOrders only
  const std::string token = sim.login(limited);
  CHECK(sim.call("GET", "/work-orders", token).status == 200);
  for (const char* path : {"/customers", "/customers/cust_88b32e", "/sites?customerId=cust_88b32e",
                           "/assets/asset_9a01", "/contracts?customerId=cust_88b32e", "/parts", "/inventory"}) {
    HttpResponse r = sim.call("GET", path, token);
    INFO(path);
    CHECK(r.status == 403);
    CHECK(r.json()["error"] == "forbidden");
  }
  HttpResponse assign = sim.call("POST", "/work-orders/wo_1f92a0/assignments", token, seedAssignment());
  CHECK(assign.status == 403);
  HttpResponse patch = sim.call("PATCH", "/work-orders/wo_1f92a0", token, {{"priority", "low"}});
  CHECK(patch.status == 403);
  CHECK(patch.json()["error"] == "forbidden");
}
