// The local API's error answers take their HTTP status from the one table of error codes
// (error_code.hpp), and docs/local-api.yaml lists each code under that same status.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "error_code_checks.hpp"
#include "fieldagent/agent/agent.hpp"
#include "fieldagent/agent/local_api.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using fieldagent::testing::TempDir;
using nlohmann::json;

namespace {

constexpr const char* kToken = "error-status-token-0123456789";

// Upstream as far as signing in: a grant for a technician without the dispatch entitlement;
// every other call finds upstream unreachable, so writes stay in the outbox.
class SignInOnly final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    if (request.method == "POST" && request.url.find("/sessions") != std::string::npos) {
      const json grant = {{"authToken", "upstream-token"},
                          {"expiresIn", 86400},
                          {"user",
                           {{"id", "U-1"},
                            {"name", "Field Tech"},
                            {"technicianId", "T-1"},
                            {"entitlements", {"workOrders", "inventory"}}}}};
      return platform::HttpResponse{201, "Created", {{"Content-Type", "application/json"}}, grant.dump()};
    }
    return makeError("transport_failed", request.method + " " + request.url + ": offline");
  }
};

struct Answer {
  int status = 0;
  json body;
};

struct Rig {
  TempDir dir;
  platform::FakeClock clock;
  platform::FakeConnectivity connectivity{{false, false, ""}};
  platform::SystemEntropy entropy;
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<agent::LocalApi> api;

  Rig() {
    agent::Config config;
    config.dataDir = dir / "data";
    config.durability = "normal";
    config.mfaMethod = "none";
    config.localApiToken = kToken;
    config.upstreamBaseUrl = "http://upstream.invalid/integrations/int_1";
    auto opened = agent::Agent::open(config, clock, connectivity, entropy, std::make_unique<SignInOnly>());
    REQUIRE(opened.ok());
    agent = std::move(opened).value();
    REQUIRE(agent->localApiContext()
                .store.workOrders()
                .upsertWorkOrder({{{"workOrderId", "WO-1"},
                                   {"status", "scheduled"},
                                   {"technicianId", "T-1"},
                                   {"updatedAt", "2026-11-20T08:00:00Z"}},
                                  "\"1\""})
                .ok());
    agent->localApiContext().events.close();
    api = agent::LocalApi::detached(*agent, kToken);
  }

  void signIn() {
    REQUIRE(agent->storeCredentials("tech", "password-1", "").ok());
    connectivity.set({true, false, "wlan0"});
    agent->runRound();
    connectivity.set({false, false, ""});
    REQUIRE(agent->status()["session"]["state"] == "active");
  }

  Answer call(const std::string& method, const std::string& target, const std::string& body = "",
              const std::string& extraHeaders = "", bool withToken = true) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (withToken) raw += std::string("Authorization: Bearer ") + kToken + "\r\n";
    raw += extraHeaders;
    if (!body.empty())
      raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n" + body;
    auto reply = api->handle(raw);
    REQUIRE(reply.ok());
    return {reply->status, json::parse(reply->body, nullptr, false)};
  }
};

// An error answer: its code is in the table, its status is the table's, and it says why.
void checkError(const Answer& a, ErrorCode expected) {
  INFO(a.status << " " << a.body.dump());
  REQUIRE(a.body.is_object());
  REQUIRE(a.body["error"].is_string());
  const auto code = ErrorCode::parse(a.body["error"].get<std::string>());
  REQUIRE(code);
  CHECK(*code == expected);
  CHECK(a.status == code->httpStatus());
  CHECK_FALSE(a.body.value("message", "").empty());
}

std::string readDoc(const std::string& relative) {
  std::ifstream in(std::string(FIELDAGENT_SOURCE_DIR) + "/" + relative);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("a local API error answer carries the status of its code in the table", "[agent][errors]") {
  Rig rig;
  const std::string move = json{{"status", "en_route"}, {"occurredAt", "2026-11-20T09:00:00Z"}}.dump();

  checkError(rig.call("GET", "/agent/status", "", "", false), "unauthorized");
  checkError(rig.call("GET", "/work-orders/WO-nothere"), "not_found");
  checkError(rig.call("GET", "/no/such/route"), "not_found");
  checkError(rig.call("GET", "/work-orders?pageSize=500"), "bad_request");
  checkError(rig.call("POST", "/work-orders/WO-1/status", "{\"status\":"), "bad_request");
  checkError(rig.call("POST", "/work-orders/WO-1/status", std::string(1024 * 1024 + 1, ' ')), "payload_too_large");
  checkError(rig.call("DELETE", "/work-orders"), "method_not_allowed");
  checkError(rig.call("POST", "/agent/credentials", json{{"username", ""}, {"password", "p"}}.dump()), "invalid");
  checkError(rig.call("POST", "/agent/mfa", json{{"code", "123456"}}.dump()), "no_challenge");
  checkError(rig.call("POST", "/agent/conflicts/999/resolve", json{{"choice", "keep_mine"}}.dump()), "not_found");
  // Nobody has signed in on this device yet: a capture is refused until somebody does.
  checkError(rig.call("POST", "/work-orders/WO-1/status", move), "signed_out");

  rig.signIn();
  const auto first = rig.call("POST", "/work-orders/WO-1/status", move, "Idempotency-Key: app-1\r\n");
  REQUIRE(first.status == 202);
  const std::string other = json{{"status", "on_site"}, {"occurredAt", "2026-11-20T09:00:00Z"}}.dump();
  checkError(rig.call("POST", "/work-orders/WO-1/status", other, "Idempotency-Key: app-1\r\n"),
             "idempotency_key_reused");
  const std::string completed = json{{"status", "completed"}, {"occurredAt", "2026-11-20T09:05:00Z"}}.dump();
  checkError(rig.call("POST", "/work-orders/WO-1/status", completed), "invalid_transition");
  // The technician lacks the dispatch entitlement.
  checkError(rig.call("POST", "/work-orders/WO-1/assignments",
                      json{{"technicianId", "T-2"},
                           {"scheduledStart", "2026-11-21T08:00:00Z"},
                           {"scheduledEnd", "2026-11-21T09:00:00Z"}}
                          .dump()),
             "forbidden");
}

TEST_CASE("docs/local-api.yaml lists each error code under the status of the table", "[agent][errors][docs]") {
  const std::string doc = readDoc("docs/local-api.yaml");
  // The table in the API's description: "    | 404 | `not_found` (...) |".
  const std::regex row(R"(\n\s*\| (\d{3}) \| ([^\n]*)\|)");
  const std::regex quoted("`([a-z][a-z0-9_]*)`");
  std::set<std::string> listed;
  int rows = 0;
  for (auto r = std::sregex_iterator(doc.begin(), doc.end(), row); r != std::sregex_iterator(); ++r) {
    ++rows;
    const int status = std::stoi((*r)[1].str());
    const std::string cell = (*r)[2].str();
    for (auto q = std::sregex_iterator(cell.begin(), cell.end(), quoted); q != std::sregex_iterator(); ++q) {
      const std::string name = (*q)[1].str();
      INFO(status << " lists `" << name << "`");
      const auto code = ErrorCode::parse(name);
      REQUIRE(code);  // every code the page names is in the table
      CHECK(code->httpStatus() == status);
      listed.insert(name);
    }
  }
  CHECK(rows >= 10);
  // The codes the local API answers with on its own (not passed through from below) are all there.
  for (const char* own : {"bad_request",        "invalid",
                          "unauthorized",       "signed_out",
                          "forbidden",          "not_found",
                          "method_not_allowed", "payload_too_large",
                          "quota_exceeded",     "idempotency_key_reused",
                          "invalid_transition", "wrong_state",
                          "already_resolved",   "no_challenge",
                          "no_credentials",     "mfa_pending",
                          "invalid_mfa_code",   "unreachable",
                          "no_space",           "internal"}) {
    INFO(own);
    CHECK(listed.count(own) == 1);
  }
}
