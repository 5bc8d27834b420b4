// The process: start line, clean stop, restart on the same data, determinism of --seed.
#include <csignal>
#include <filesystem>

#include "sim_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldagent::testing;

TEST_CASE("the start line names a loopback base URL with a path prefix, the tokens and the demo users", "[lifecycle]") {
  SimProcess sim({"--seed", "5"});
  const json& line = sim.startLine();
  CHECK(sim.baseUrl().rfind("http://127.0.0.1:", 0) == 0);
  CHECK(sim.baseUrl().find("/integrations/int_local") != std::string::npos);
  CHECK(sim.adminUrl() == sim.baseUrl() + "/_admin");
  CHECK_FALSE(sim.integrationToken().empty());
  CHECK_FALSE(sim.adminToken().empty());
  CHECK(line["pid"] == sim.pid());
  REQUIRE(sim.users().size() == 5);
  for (const SimUser& u : sim.users()) {
    CHECK_FALSE(u.password.empty());
    CHECK(u.tenant == "global-services");
    CHECK((u.mfa != "totp" || u.totpSecret.size() == 32));
  }
  CHECK(sim.user("totp", "dispatch").userId == "u_72c19f");
  CHECK(sim.technicianUser().technicianId == std::optional<std::string>("tech_45af1d"));

  // Paths outside the prefix and unknown paths inside it are 404.
  const std::string origin = sim.baseUrl().substr(0, sim.baseUrl().find("/integrations"));
  CHECK(httpCall("GET", origin + "/work-orders").status == 404);
  const std::string token = sim.login(sim.user("none"));
  CHECK(sim.call("GET", "/no-such-thing", token).status == 404);
  CHECK(sim.call("DELETE", "/work-orders/wo_1f92a0", token).status == 405);
}

TEST_CASE("SIGTERM stops the sim cleanly and removes its temporary data folder", "[lifecycle]") {
  SimProcess sim({"--seed", "5"});
  const std::filesystem::path dir = sim.startLine()["dataDir"].get<std::string>();
  CHECK(std::filesystem::exists(dir / "alliance-sim.db"));
  CHECK(sim.stop() == 0);
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("SIGINT stops it cleanly too", "[lifecycle]") {
  SimProcess sim({"--seed", "5"});
  CHECK(sim.stop(SIGINT) == 0);
}

TEST_CASE("a restart on the same --data keeps work orders, sessions and idempotency records", "[lifecycle]") {
  TempDir data;
  std::string token;
  json firstConsumption;
  std::string integration;
  {
    RunningSim s({"--seed", "30", "--data", data.path().string()});
    CHECK(s.sim.startLine()["generated"] == true);
    integration = s.sim.integrationToken();
    REQUIRE(s.post("/work-orders/wo_1f92a0/status", s.technician, {{"status", "en_route"}}).status == 200);
    HttpResponse c = s.post("/work-orders/wo_1f92a0/consumptions", s.technician, seedConsumption(),
                            {{"Idempotency-Key", "survives-restart"}});
    REQUIRE(c.status == 201);
    firstConsumption = c.json();
    token = s.technician;
    CHECK(s.sim.stop() == 0);
  }
  SimProcess again({"--seed", "999", "--data", data.path().string()});
  CHECK(again.startLine()["generated"] == false);
  CHECK(again.integrationToken() == integration);
  CHECK(again.call("GET", "/work-orders", token).json()["total"] == 30);  // --seed ignored on existing data
  CHECK(again.call("GET", "/work-orders/wo_1f92a0", token).json()["status"] == "en_route");
  HttpResponse replay = again.call("POST", "/work-orders/wo_1f92a0/consumptions", token, seedConsumption(),
                                   {{"Idempotency-Key", "survives-restart"}});
  CHECK(replay.status == 201);
  CHECK(replay.header("Idempotent-Replayed") == "true");
  CHECK(replay.json() == firstConsumption);
  CHECK(again.admin("GET", "/effects?workOrderId=wo_1f92a0").json()["consumptions"] == 1);
  CHECK(again.call("GET", "/work-orders/wo_1f92a0/consumptions", token).json()["total"] == 1);
}

TEST_CASE("the same --seed yields the same data in two fresh instances - another seed differs", "[lifecycle]") {
  auto everything = [](const std::vector<std::string>& args) {
    SimProcess sim(args);
    const std::string token = sim.login(sim.user("none"));
    json out = json::array();
    for (const char* path : {"/work-orders?pageSize=200", "/customers?pageSize=200", "/sites?pageSize=200",
                             "/contracts?pageSize=200", "/inventory?pageSize=200", "/technicians"}) {
      out.push_back(sim.call("GET", path, token).json());
    }
    return out;
  };
  const json a = everything({"--seed", "120", "--technicians", "4"});
  const json b = everything({"--seed", "120", "--technicians", "4"});
  CHECK(a == b);
  CHECK(a[0]["total"] == 120);
  CHECK(a[5]["total"] == 4);
  const json c = everything({"--seed", "121", "--technicians", "4"});
  CHECK(c[0]["items"] != a[0]["items"]);
}

TEST_CASE("bad command lines end the sim with a message instead of a start line", "[lifecycle]") {
  CHECK_THROWS_AS(SimProcess({"--seed", "zero"}), std::runtime_error);
  CHECK_THROWS_AS(SimProcess({"--no-such-flag"}), std::runtime_error);
  CHECK_THROWS_AS(SimProcess({"--fail-503", "0.8", "--fail-500", "0.8"}), std::runtime_error);
}
