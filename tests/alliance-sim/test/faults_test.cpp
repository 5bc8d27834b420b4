// Fault injection and the admin API: 5xx, 429 with Retry-After, dropped connections after the
// effect, latency, path filters, the server clock.
#include "sim_fixture.hpp"

using namespace fieldagent::testing;

TEST_CASE("the admin API needs the admin token", "[faults]") {
  SimProcess sim({"--seed", "5"});
  HttpResponse r = httpCall("GET", sim.adminUrl() + "/faults", "", {{"Authorization", "Bearer wrong"}});
  CHECK(r.status == 401);
  CHECK(httpCall("GET", sim.adminUrl() + "/faults").status == 401);
  CHECK(sim.admin("GET", "/faults").status == 200);
  CHECK(sim.admin("GET", "/nothing").status == 404);
  CHECK(sim.admin("PUT", "/faults", {{"error503Share", 2}}).status == 400);
  CHECK(sim.admin("PUT", "/faults", {{"next", {"teapot"}}}).status == 400);
}

TEST_CASE("injected 503 and 429 carry Retry-After and have no effect - the retry does", "[faults]") {
  RunningSim s;
  REQUIRE(s.sim.admin("PUT", "/faults", {{"next", {"503", "429", "500"}}, {"retryAfterSeconds", 7}}).status == 200);
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "fault-key"}};
  const std::string path = "/work-orders/wo_1f92a0/consumptions";
  HttpResponse unavailable = s.post(path, s.technician, seedConsumption(), key);
  CHECK(unavailable.status == 503);
  CHECK(unavailable.header("Retry-After") == "7");
  HttpResponse throttled = s.post(path, s.technician, seedConsumption(), key);
  CHECK(throttled.status == 429);
  CHECK(throttled.header("Retry-After") == "7");
  HttpResponse broken = s.post(path, s.technician, seedConsumption(), key);
  CHECK(broken.status == 500);
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 0);

  HttpResponse ok = s.post(path, s.technician, seedConsumption(), key);
  CHECK(ok.status == 201);
  CHECK(ok.header("Idempotent-Replayed").empty());
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 1);
  json stats = s.sim.admin("GET", "/stats").json();
  CHECK(stats["byStatus"]["503"] == 1);
  CHECK(stats["byStatus"]["429"] == 1);
}

TEST_CASE("a connection closed mid-response after the effect: the retry with the same key replays", "[faults]") {
  RunningSim s;
  REQUIRE(s.sim.admin("PUT", "/faults", {{"next", {"drop"}}}).status == 200);
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "drop-key"}};
  const std::string path = "/work-orders/wo_1f92a0/consumptions";
  HttpResponse lost = s.post(path, s.technician, seedConsumption(), key);
  CHECK(lost.status == 0);
  CHECK_FALSE(lost.transportError.empty());
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 1);

  HttpResponse retried = s.post(path, s.technician, seedConsumption(), key);
  CHECK(retried.status == 201);
  CHECK(retried.header("Idempotent-Replayed") == "true");
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 1);
  CHECK(s.get(path, s.technician).json()["total"] == 1);
}

TEST_CASE("shares set at run time, limited to a path, and cleared", "[faults]") {
  RunningSim s;
  REQUIRE(s.sim.admin("PUT", "/faults", {{"error500Share", 1.0}, {"pathContains", "/consumptions"}, {"latencyMs", 20}})
              .status == 200);
  json plan = s.sim.admin("GET", "/faults").json();
  CHECK(plan["error500Share"] == 1.0);
  CHECK(plan["latencyMs"] == 20);
  CHECK(s.get("/work-orders/wo_1f92a0", s.technician).status == 200);
  for (int i = 0; i < 3; ++i) CHECK(s.get("/work-orders/wo_1f92a0/consumptions", s.technician).status == 500);
  REQUIRE(s.sim.admin("DELETE", "/faults").status == 200);
  CHECK(s.get("/work-orders/wo_1f92a0/consumptions", s.technician).status == 200);
  // The admin API itself is never faulted.
  REQUIRE(s.sim.admin("PUT", "/faults", {{"error503Share", 1.0}}).status == 200);
  CHECK(s.get("/work-orders", s.technician).status == 503);
  CHECK(s.sim.admin("GET", "/faults").status == 200);
}

TEST_CASE("fault flags at start: --throttle-429 with --retry-after, --fail-503", "[faults]") {
  SimProcess throttled({"--seed", "5", "--throttle-429", "1", "--retry-after", "9"});
  HttpResponse r = httpCall("POST", throttled.baseUrl() + "/sessions", "{}");
  CHECK(r.status == 429);
  CHECK(r.header("Retry-After") == "9");
  CHECK(throttled.admin("GET", "/faults").json()["throttle429Share"] == 1.0);

  SimProcess unavailable({"--seed", "5", "--fail-503", "1", "--fault-path", "/work-orders"});
  const std::string token = unavailable.login(unavailable.user("none"));
  CHECK(unavailable.call("GET", "/work-orders", token).status == 503);
  CHECK(unavailable.call("GET", "/customers", token).status == 200);
}

TEST_CASE("the server clock can be frozen and shifted - changes are stamped with it", "[faults]") {
  RunningSim s;
  HttpResponse frozen = s.sim.admin("POST", "/clock", {{"freeze", true}, {"at", "2030-03-01T08:00:00Z"}});
  REQUIRE(frozen.status == 200);
  CHECK(frozen.json()["now"] == "2030-03-01T08:00:00Z");
  CHECK(frozen.json()["frozen"] == true);
  // Tokens live on the server clock too, so each jump in time needs a fresh session.
  auto technician = [&] { return s.sim.login(s.sim.technicianUser()); };
  HttpResponse moved = s.post("/work-orders/wo_1f92a0/status", technician(), {{"status", "en_route"}});
  REQUIRE(moved.status == 200);
  CHECK(moved.json()["updatedAt"] == "2030-03-01T08:00:00Z");
  CHECK(s.sim.admin("POST", "/clock", {{"shiftSeconds", 3600}}).json()["now"] == "2030-03-01T09:00:00Z");
  HttpResponse later = s.post("/work-orders/wo_1f92a0/status", technician(), {{"status", "on_site"}});
  CHECK(later.json()["updatedAt"] == "2030-03-01T09:00:00Z");

  // Going back in time never makes updatedAt go backwards (delta pulls would miss the change).
  s.sim.admin("POST", "/clock", {{"freeze", true}, {"at", "2029-01-01T00:00:00Z"}});
  HttpResponse back = s.post("/work-orders/wo_1f92a0/status", technician(), {{"status", "en_route"}});
  CHECK(back.json()["updatedAt"] == "2030-03-01T09:00:00Z");
  json reset = s.sim.admin("POST", "/clock", {{"reset", true}}).json();
  CHECK(reset["frozen"] == false);
  CHECK(reset["offsetSeconds"] == 0);
  CHECK(s.sim.admin("POST", "/clock", {{"shiftSeconds", "soon"}}).status == 400);
}
