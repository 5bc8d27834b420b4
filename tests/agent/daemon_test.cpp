// The real `fieldagent run` against alliance-sim on loopback, driven over HTTP as an app would:
// authentication, reads from the cache, offline writes answered 202 and visible at once,
// idempotency, attachments, errors in the contract's shape, the agent's own endpoints, the event
// stream, and config mistakes reported before anything starts.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <fstream>

#include "daemon_fixture.hpp"

using namespace fieldagent::testing;
using nlohmann::json;

namespace {

// Signs the technician in through the API and waits for the prime on the event stream.
void signInAndPrime(AgentProcess& agent, EventStream& events, const SimUser& user) {
  auto r = agent.call("POST", "/agent/credentials",
                      json{{"username", user.username}, {"password", user.password}, {"totpSecret", user.totpSecret}}
                          .dump());
  REQUIRE(r.status == 202);
  auto done = events.waitFor("sync", [](const json& d) { return d["phase"] == "pull_done"; });
  CHECK(done["prime"] == true);
  CHECK(done["workOrdersStored"].get<int>() > 0);
}

// alliance-sim generated from `seed`, and an agent signed in as its TOTP technician and primed.
struct PrimedAgent {
  explicit PrimedAgent(const std::string& seed)
      : sim({"--seed", seed}),
        user(sim.technicianUser("totp")),
        agent(writeConfig(dir, sim, user), dir),
        events(agent.url(), agent.token()) {
    signInAndPrime(agent, events, user);
  }
  SimProcess sim;
  TempDir dir;
  const SimUser& user;
  AgentProcess agent;
  EventStream events;
};

}  // namespace

TEST_CASE("fieldagent run refuses each kind of broken config with a message naming it", "[agent][daemon]") {
  TempDir dir;
  auto write = [&](const std::string& text) {
    auto f = dir / "bad.json";
    std::ofstream(f) << text;
    return f.string();
  };
  struct Case {
    std::string text, expect;
  };
  for (const auto& c : std::vector<Case>{{"{\"tenant\": ", "not valid JSON"},
                                         {R"({"upstrem":{}})", "upstrem: unknown key"},
                                         {R"({"localApi":{"port":"8787"}})", "localApi.port: must be an integer"},
                                         {R"({"sync":{"pullIntervalSeconds":1}})", "sync.pullIntervalSeconds: 1 is out of range"},
                                         {R"({"localApi":{"bind":"0.0.0.0"}})", "not a loopback address"}}) {
    auto e = runToEnd({"run", "--config", write(c.text)}, dir);
    INFO(c.text);
    CHECK(e.code == 78);
    CHECK_THAT(e.stderrText, Catch::Contains(c.expect));
  }
  auto missing = runToEnd({"run", "--config", (dir / "absent.json").string()}, dir);
  CHECK(missing.code == 78);
  CHECK_THAT(missing.stderrText, Catch::Contains("absent.json: cannot read"));
}

TEST_CASE("the local API serves the technician's day over HTTP", "[agent][daemon]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  AgentProcess agent(writeConfig(dir, sim, user), dir);

  SECTION("every request needs the bearer token") {
    CHECK(agent.call("GET", "/health", "", {{"Authorization", ""}}).status == 401);
    auto wrong = agent.call("GET", "/agent/status", "", {{"Authorization", "Bearer wrong"}});
    CHECK(wrong.status == 401);
    CHECK(wrong.json()["error"] == "unauthorized");
    CHECK(agent.call("GET", "/health").status == 200);
  }

  EventStream events(agent.url(), agent.token());
  REQUIRE(events.status() == 200);
  CHECK(events.contentType() == "text/event-stream");
  signInAndPrime(agent, events, user);

  auto status = agent.call("GET", "/agent/status").json();
  CHECK(status["session"]["state"] == "active");
  CHECK(status["lastPull"]["outcome"] == "ok");

  auto list = agent.call("GET", "/work-orders?pageSize=2&page=1").json();
  REQUIRE(list["items"].size() >= 1);
  CHECK(list["pageSize"] == 2);
  CHECK(agent.call("GET", "/work-orders?pageSize=500").status == 400);
  CHECK(agent.call("GET", "/work-orders?slaDueFrom=yesterday").json()["error"] == "bad_request");
  auto scheduled = agent.call("GET", "/work-orders?status=scheduled&pageSize=200").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  for (const auto& item : scheduled["items"]) CHECK(item["status"] == "scheduled");
  auto one = agent.call("GET", "/work-orders/" + wo);
  CHECK(one.status == 200);
  CHECK(one.json()["workOrderId"] == wo);
  auto unknown = agent.call("GET", "/work-orders/wo_nothere");
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["error"] == "not_found");

  SECTION("writes answer 202, are visible at once, and an Idempotency-Key is honoured") {
    const std::string move = json{{"status", "en_route"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump();
    auto first = agent.call("POST", "/work-orders/" + wo + "/status", move, {{"Idempotency-Key", "app-1"}});
    REQUIRE(first.status == 202);
    CHECK(first.json()["syncState"] == "pending");
    CHECK(first.json()["operationIds"].size() == 1);
    CHECK(agent.call("GET", "/work-orders/" + wo).json()["status"] == "en_route");
    auto again = agent.call("POST", "/work-orders/" + wo + "/status", move, {{"Idempotency-Key", "app-1"}});
    CHECK(again.status == 202);
    CHECK(again.header("idempotent-replayed") == "true");
    CHECK(again.json()["operationIds"] == first.json()["operationIds"]);
    auto other = agent.call("POST", "/work-orders/" + wo + "/status",
                            json{{"status", "on_site"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump(),
                            {{"Idempotency-Key", "app-1"}});
    CHECK(other.status == 422);
    CHECK(other.json()["error"] == "idempotency_key_reused");

    auto illegal = agent.call("POST", "/work-orders/" + wo + "/status",
                              json{{"status", "completed"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump());
    CHECK(illegal.status == 409);
    CHECK(illegal.json()["error"] == "invalid_transition");
    CHECK_THAT(illegal.json()["message"].get<std::string>(), Catch::Contains("completed"));
    auto malformed = agent.call("POST", "/work-orders/" + wo + "/status", "{\"status\":");
    CHECK(malformed.status == 400);
    CHECK_THAT(malformed.json()["message"].get<std::string>(), Catch::Contains("not valid JSON"));
    auto wrongType = agent.call("POST", "/work-orders/" + wo + "/status", json{{"status", 5}}.dump());
    CHECK(wrongType.status == 400);
    CHECK_THAT(wrongType.json()["message"].get<std::string>(), Catch::Contains("status"));
    CHECK(agent.call("POST", "/work-orders/wo_nothere/status", move).status == 404);
    // Nothing of the refused requests was written: one status operation in the outbox.
    auto outbox = agent.call("GET", "/agent/outbox?workOrderId=" + wo).json();
    CHECK(outbox["items"].size() == 1);

    auto photo = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=meter.jpg",
                            std::string(200'000, 'x'), {{"Content-Type", "image/jpeg"}});
    REQUIRE(photo.status == 202);
    CHECK(photo.json()["sizeBytes"] == 200'000);
    const std::string boundary = "XyZ";
    std::string form = "--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nsignature\r\n--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\nsig.png\r\n--" + boundary +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sig.png\"\r\n"
                       "Content-Type: image/png\r\n\r\nPNGDATA\r\n--" + boundary + "--\r\n";
    auto sig = agent.call("POST", "/work-orders/" + wo + "/attachments", form,
                          {{"Content-Type", "multipart/form-data; boundary=" + boundary}});
    REQUIRE(sig.status == 202);
    CHECK(agent.call("POST", "/work-orders/" + wo + "/attachments?kind=sketch&fileName=a", "x",
                     {{"Content-Type", "image/png"}}).status == 400);
    auto atts = agent.call("GET", "/work-orders/" + wo + "/attachments").json();
    CHECK(atts["items"].size() == 2);

    auto consumption = agent.call(
        "POST", "/work-orders/" + wo + "/consumptions",
        json{{"labor", {{{"laborType", "standard"}, {"hours", 1.5}, {"startAt", "2026-01-01T08:00:00Z"},
                         {"endAt", "2026-01-01T09:30:00Z"}}}},
             {"customerSignature",
              {{"name", "Pat"}, {"signedAt", "2026-01-01T09:35:00Z"}, {"signatureToken", sig.json()["signatureToken"]}}}}
            .dump());
    INFO(consumption.body);
    REQUIRE(consumption.status == 202);
    auto invoice = agent.call("GET", "/work-orders/" + wo + "/invoice");
    CHECK(invoice.status == 200);
    CHECK(invoice.json()["workOrderId"] == wo);

    // The technician lacks `dispatch`.
    auto assign = agent.call("POST", "/work-orders/" + wo + "/assignments",
                             json{{"technicianIds", {user.technicianId.value()}}}.dump());
    CHECK(assign.status == 403);
    CHECK(assign.json()["error"] == "forbidden");

    CHECK(agent.call("POST", "/agent/sync").status == 202);
    events.waitFor("sync", [](const json& d) { return d["phase"] == "push_done" && d["done"].get<int>() > 0; });
  }

  SECTION("reference data, agent endpoints, metrics") {
    auto wod = agent.call("GET", "/work-orders/" + wo).json();
    auto customer = agent.call("GET", "/customers/" + wod["customerId"].get<std::string>());
    CHECK(customer.status == 200);
    CHECK(agent.call("GET", "/customers").json()["total"].get<int>() >= 1);
    CHECK(agent.call("GET", "/sites?customerId=" + wod["customerId"].get<std::string>()).status == 200);
    CHECK(agent.call("GET", "/assets/" + wod["asset"]["assetId"].get<std::string>()).status == 200);
    CHECK(agent.call("GET", "/contracts").status == 200);
    CHECK(agent.call("GET", "/parts").json()["total"].get<int>() >= 1);
    CHECK(agent.call("GET", "/inventory").json()["items"].size() >= 1);
    CHECK(agent.call("GET", "/customers/cust_nothere").status == 404);
    CHECK(agent.call("GET", "/agent/conflicts").json()["items"].is_array());
    CHECK(agent.call("GET", "/agent/rejected").json()["items"].is_array());
    CHECK(agent.call("GET", "/agent/outbox?state=sideways").status == 400);
    auto mfa = agent.call("POST", "/agent/mfa", json{{"code", "123456"}}.dump());
    CHECK(mfa.status == 409);
    CHECK(mfa.json()["error"] == "no_challenge");
    CHECK(agent.call("POST", "/agent/conflicts/999/resolve", json{{"choice", "keep_mine"}}.dump()).status == 404);
    CHECK(agent.call("POST", "/agent/conflicts/1/resolve", json{{"choice", "maybe"}}.dump()).status == 400);
    auto metrics = agent.call("GET", "/metrics");
    CHECK(metrics.status == 200);
    CHECK_THAT(metrics.body, Catch::Contains("fieldagent_pulls_total 1"));
    CHECK_THAT(metrics.body, Catch::Contains("fieldagent_outbox_operations{state=\"pending\"}"));
    // The margin is a week: the scheduled work orders' SLAs are inside it.
    events.waitFor("sla_at_risk");
  }

  CHECK(agent.stop() == 0);
}

TEST_CASE("a conflict reaches the event stream and is resolved through the API", "[agent][daemon]") {
  PrimedAgent primed("20");
  auto& [sim, dir, user, agent, events] = primed;
  auto scheduled = agent.call("GET", "/work-orders?status=scheduled").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  // Dispatch cancels the work order; the agent has not pulled since, so the technician's move
  // is accepted offline against the cached copy and meets the cancellation when it is pushed.
  auto dispatcher = sim.login(sim.user("totp", "dispatch"));
  REQUIRE(sim.call("PATCH", "/work-orders/" + wo, dispatcher, json{{"status", "cancelled"}}).status == 200);
  REQUIRE(agent.call("POST", "/work-orders/" + wo + "/status",
                     json{{"status", "en_route"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump()).status == 202);
  REQUIRE(agent.call("POST", "/agent/sync").status == 202);
  auto conflict = events.waitFor("conflict");
  CHECK(conflict["workOrderId"] == wo);
  auto listed = agent.call("GET", "/agent/conflicts").json();
  REQUIRE(listed["items"].size() == 1);
  const auto id = listed["items"][0]["conflictId"].get<std::int64_t>();
  auto resolved = agent.call("POST", "/agent/conflicts/" + std::to_string(id) + "/resolve",
                             json{{"choice", "take_theirs"}, {"note", "dispatch cancelled it"}}.dump());
  REQUIRE(resolved.status == 200);
  CHECK(resolved.json()["open"] == false);
  CHECK(resolved.json()["resolution"] == "take_theirs");
  CHECK(agent.call("POST", "/agent/conflicts/" + std::to_string(id) + "/resolve",
                   json{{"choice", "take_theirs"}}.dump()).status == 409);
  CHECK(agent.stop() == 0);
}

TEST_CASE("a work-order page carries each cached view with its _local block and names a damaged one", "[agent][daemon]") {
  PrimedAgent primed("21");
  auto& [sim, dir, user, agent, events] = primed;
  REQUIRE(events.status() == 200);

  // A page is the views as a single read gives them, "_local" included.
  auto page = agent.call("GET", "/work-orders?pageSize=2&page=1");
  REQUIRE(page.status == 200);
  CHECK(page.header("content-type") == "application/json");
  const json list = page.json();
  REQUIRE(list["items"].size() == 2);
  CHECK(list["page"] == 1);
  CHECK(list["pageSize"] == 2);
  CHECK(list["total"].get<int>() > 2);
  for (const auto& item : list["items"]) {
    const json one = agent.call("GET", "/work-orders/" + item["workOrderId"].get<std::string>()).json();
    CHECK(item == one);
    CHECK(item["_local"]["hasLocalChanges"] == false);
    CHECK(item["_local"]["etag"].is_string());
  }
  const std::string first = list["items"][0]["workOrderId"];
  const std::string second = list["items"][1]["workOrderId"];

  // Rows changed behind the agent's back, as a damaged or hand-edited file would have them.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir / "data" / "fieldagent.db").string().c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  auto setDoc = [&](const std::string& id, const std::string& text) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "UPDATE work_orders SET doc = ?1 WHERE work_order_id = ?2", -1, &stmt, nullptr) ==
            SQLITE_OK);
    sqlite3_bind_text(stmt, 1, text.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    CHECK(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_finalize(stmt);
  };
  // A view holding a "_local" of its own (from upstream) gets the agent's in its place.
  setDoc(first, json{{"workOrderId", first}, {"status", "scheduled"}, {"_local", {{"spoof", true}}}}.dump());
  // An empty object and one with spaces are still objects.
  setDoc(second, "{ }");
  auto edited = agent.call("GET", "/work-orders?pageSize=2&page=1");
  REQUIRE(edited.status == 200);
  const json items = edited.json()["items"];
  CHECK(items[0]["_local"].count("spoof") == 0);
  // Not a duplicate key that a lenient parser happens to resolve our way: one "_local" an item.
  std::size_t locals = 0;
  for (auto at = edited.body.find("\"_local\""); at != std::string::npos; at = edited.body.find("\"_local\"", at + 1)) {
    ++locals;
  }
  CHECK(locals == items.size());
  CHECK(items[0]["_local"]["hasLocalChanges"] == false);
  CHECK(items[1].size() == 1);
  CHECK(items[1]["_local"]["detached"] == false);

  // A view that is not JSON any more: the page is refused with a clear error naming it, and
  // pages without it are still served.
  setDoc(second, "{\"workOrderId\": \"" + second + "\", \"status\": ");
  auto damaged = agent.call("GET", "/work-orders?pageSize=2&page=1");
  CHECK(damaged.status == 500);
  CHECK(damaged.json()["error"] == "corrupt");
  CHECK_THAT(damaged.json()["message"].get<std::string>(), Catch::Contains(second));
  CHECK(agent.call("GET", "/work-orders?pageSize=2&page=2").status == 200);
  sqlite3_close(db);
}
