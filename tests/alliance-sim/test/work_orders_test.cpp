// Work orders: pagination, filters, sort, ETag, the status machine (409 vs 412), dispatcher
// PATCH, assignments and consumptions with idempotency keys.
#include <set>

#include "sim_fixture.hpp"

using namespace fieldagent::testing;

namespace {
std::vector<json> allPages(RunningSim& s, const std::string& query, int pageSize) {
  std::vector<json> items;
  for (int page = 1;; ++page) {
    HttpResponse r =
        s.get("/work-orders?" + query + "&pageSize=" + std::to_string(pageSize) + "&page=" + std::to_string(page),
              s.dispatcher);
    REQUIRE(r.status == 200);
    const json body = r.json();
    for (const auto& item : body["items"]) items.push_back(item);
    if (body["items"].empty() || static_cast<std::int64_t>(items.size()) >= body["total"].get<std::int64_t>()) break;
  }
  return items;
}
}  // namespace

TEST_CASE("work orders page from 1 with pageSize 1 to 200, default 50, and reject other values", "[work-orders]") {
  RunningSim s({"--seed", "120"});
  json first = s.get("/work-orders", s.dispatcher).json();
  CHECK(first["page"] == 1);
  CHECK(first["pageSize"] == 50);
  CHECK(first["total"] == 120);
  CHECK(first["items"].size() == 50);
  json last = s.get("/work-orders?page=3&pageSize=50", s.dispatcher).json();
  CHECK(last["items"].size() == 20);
  CHECK(s.get("/work-orders?page=4", s.dispatcher).json()["items"].empty());
  CHECK(s.get("/work-orders?pageSize=200", s.dispatcher).json()["items"].size() == 120);
  CHECK_FALSE(first["items"][0].contains("checklist"));

  for (const char* bad : {"page=0", "page=-1", "page=abc", "pageSize=0", "pageSize=201", "pageSize=1.5"}) {
    HttpResponse r = s.get(std::string("/work-orders?") + bad, s.dispatcher);
    INFO(bad);
    CHECK(r.status == 400);
    CHECK(r.json()["error"] == "invalid_request");
    CHECK(r.json()["details"]["parameter"].is_string());
  }
}

TEST_CASE("work order filters: status, customerId, technicianId, SLA and update windows (inclusive)", "[work-orders]") {
  RunningSim s({"--seed", "150"});
  const std::vector<json> all = allPages(s, "", 200);
  REQUIRE(all.size() == 150);

  for (const char* status : {"open", "scheduled", "completed"}) {
    const auto items = allPages(s, std::string("status=") + status, 200);
    const auto expected = std::count_if(all.begin(), all.end(), [&](const json& w) { return w["status"] == status; });
    CHECK(static_cast<long>(items.size()) == expected);
    for (const auto& w : items) CHECK(w["status"] == status);
  }
  const auto byCustomer = allPages(s, "customerId=cust_88b32e", 200);
  CHECK_FALSE(byCustomer.empty());
  for (const auto& w : byCustomer) CHECK(w["customerId"] == "cust_88b32e");

  const auto mine = allPages(s, "technicianId=tech_45af1d", 200);
  const auto expectedMine = std::count_if(all.begin(), all.end(), [](const json& w) {
    const auto& t = w["assignedTechnicianIds"];
    return std::find(t.begin(), t.end(), "tech_45af1d") != t.end();
  });
  CHECK(static_cast<long>(mine.size()) == expectedMine);
  CHECK(expectedMine > 0);

  // updatedFrom/updatedTo are inclusive: the seed work order's own updatedAt finds it.
  const auto exact = allPages(s, "updatedFrom=2026-01-21T09:30:00Z&updatedTo=2026-01-21T09:30:00Z", 50);
  REQUIRE_FALSE(exact.empty());
  for (const auto& w : exact) CHECK(w["updatedAt"] == "2026-01-21T09:30:00Z");
  CHECK(std::any_of(exact.begin(), exact.end(), [](const json& w) { return w["workOrderId"] == "wo_1f92a0"; }));

  const std::string from = "2026-01-01T00:00:00Z";
  const std::string to = "2026-01-15T00:00:00Z";
  const auto window = allPages(s, "slaDueFrom=" + from + "&slaDueTo=" + to, 200);
  const auto expectedWindow = std::count_if(all.begin(), all.end(), [&](const json& w) {
    return w["slaDueAt"].get<std::string>() >= from && w["slaDueAt"].get<std::string>() <= to;
  });
  CHECK(static_cast<long>(window.size()) == expectedWindow);

  for (const char* bad : {"status=flying", "updatedFrom=yesterday", "slaDueTo=2026-13-01T00:00:00Z", "sort=number"}) {
    INFO(bad);
    CHECK(s.get(std::string("/work-orders?") + bad, s.dispatcher).status == 400);
  }
}

TEST_CASE("sort=updatedAt orders by updatedAt then workOrderId across pages", "[work-orders]") {
  RunningSim s({"--seed", "90"});
  const auto items = allPages(s, "sort=updatedAt", 7);
  REQUIRE(items.size() == 90);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < items.size(); ++i) {
    ids.insert(items[i]["workOrderId"].get<std::string>());
    if (i == 0) continue;
    const auto prev =
        std::pair{items[i - 1]["updatedAt"].get<std::string>(), items[i - 1]["workOrderId"].get<std::string>()};
    const auto cur = std::pair{items[i]["updatedAt"].get<std::string>(), items[i]["workOrderId"].get<std::string>()};
    CHECK(prev < cur);
  }
  CHECK(ids.size() == 90);
}

TEST_CASE("GET /work-orders/{id} has checklist, notes and an ETag, unknown ids are 404", "[work-orders]") {
  RunningSim s;
  HttpResponse r = s.get("/work-orders/wo_1f92a0", s.technician);
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.header("ETag").empty());
  const json wo = r.json();
  CHECK(wo["number"] == "WO-2026-1045");
  REQUIRE(wo["checklist"].is_array());
  CHECK(wo["checklist"][0].contains("itemId"));
  CHECK(wo["checklist"][0].contains("required"));
  CHECK(wo["checklist"][0].contains("answer"));
  CHECK(wo["notes"].is_array());
  CHECK(s.get("/work-orders/wo_1f92a0", s.technician).header("ETag") == r.header("ETag"));
  HttpResponse missing = s.get("/work-orders/wo_nothere", s.technician);
  CHECK(missing.status == 404);
  CHECK(missing.json()["error"] == "not_found");
}

TEST_CASE("status moves follow the technician's state machine and change the ETag", "[work-orders]") {
  RunningSim s;
  const std::string path = "/work-orders/wo_1f92a0/status";
  const std::string etag0 = s.get("/work-orders/wo_1f92a0", s.technician).header("ETag");

  HttpResponse skip = s.post(path, s.technician, {{"status", "completed"}});
  CHECK(skip.status == 409);
  CHECK(skip.json()["error"] == "invalid_transition");
  CHECK(skip.json()["details"]["current"]["status"] == "scheduled");

  HttpResponse enRoute = s.post(path, s.technician,
                                {{"status", "en_route"},
                                 {"occurredAt", "2026-01-21T12:30:00Z"},
                                 {"note", "Leaving the depot"},
                                 {"location", {{"lat", 33.75}, {"lon", -84.39}}}});
  REQUIRE(enRoute.status == 200);
  CHECK(enRoute.json()["status"] == "en_route");
  const std::string etag1 = enRoute.header("ETag");
  CHECK(etag1 != etag0);
  CHECK(enRoute.json()["notes"].back()["text"] == "Leaving the depot");
  CHECK(enRoute.json()["updatedAt"].get<std::string>() > "2026-01-21T09:30:00Z");

  HttpResponse same = s.post(path, s.technician, {{"status", "en_route"}});
  CHECK(same.status == 200);
  CHECK(same.header("ETag") == etag1);

  CHECK(s.post(path, s.technician, {{"status", "on_site"}}).status == 200);
  CHECK(s.post(path, s.technician, {{"status", "en_route"}}).status == 200);  // left to fetch parts
  CHECK(s.post(path, s.technician, {{"status", "on_site"}}).status == 200);
  HttpResponse done = s.post(path, s.technician, {{"status", "completed"}, {"note", "Replaced capacitor"}});
  REQUIRE(done.status == 200);
  CHECK(done.json()["status"] == "completed");
  HttpResponse back = s.post(path, s.technician, {{"status", "on_site"}});
  CHECK(back.status == 409);

  // The finished job shows in the asset's service history.
  json asset = s.get("/assets/asset_9a01", s.technician).json();
  CHECK(std::any_of(asset["serviceHistory"].begin(), asset["serviceHistory"].end(), [](const json& h) {
    return h["workOrderId"] == "wo_1f92a0" && h["resolution"] == "Replaced capacitor";
  }));

  CHECK(s.post(path, s.technician, {{"status", "teleported"}}).status == 400);
  CHECK(s.post(path, s.technician, {{"status", "on_site"}, {"occurredAt", "noon"}}).status == 400);
  CHECK(s.post("/work-orders/wo_nothere/status", s.technician, {{"status", "en_route"}}).status == 404);
}

TEST_CASE("If-Match: a stale ETag gets 412 precondition_failed, a cancelled work order 409", "[work-orders]") {
  RunningSim s;
  const std::string path = "/work-orders/wo_1f92a0/status";
  const std::string seen = s.get("/work-orders/wo_1f92a0", s.technician).header("ETag");

  // The dispatcher moves the appointment under the technician's feet.
  HttpResponse moved =
      s.sim.call("PATCH", "/work-orders/wo_1f92a0", s.dispatcher,
                 {{"appointmentWindow", {{"start", "2026-01-22T08:00:00Z"}, {"end", "2026-01-22T12:00:00Z"}}}});
  REQUIRE(moved.status == 200);
  const std::string now = moved.header("ETag");
  CHECK(now != seen);

  HttpResponse stale = s.post(path, s.technician, {{"status", "en_route"}}, {{"If-Match", seen}});
  CHECK(stale.status == 412);
  CHECK(stale.json()["error"] == "precondition_failed");
  CHECK(stale.json()["details"]["current"]["appointmentWindow"]["start"] == "2026-01-22T08:00:00Z");
  CHECK(stale.header("ETag") == now);

  HttpResponse fresh = s.post(path, s.technician, {{"status", "en_route"}}, {{"If-Match", now}});
  CHECK(fresh.status == 200);

  HttpResponse cancel = s.sim.call("PATCH", "/work-orders/wo_1f92a0", s.dispatcher, {{"status", "cancelled"}});
  REQUIRE(cancel.status == 200);
  CHECK(cancel.json()["status"] == "cancelled");
  HttpResponse refused = s.post(path, s.technician, {{"status", "on_site"}}, {{"If-Match", cancel.header("ETag")}});
  CHECK(refused.status == 409);
  CHECK(refused.json()["error"] == "invalid_transition");
  CHECK(refused.json()["details"]["current"]["status"] == "cancelled");
}

TEST_CASE("dispatcher PATCH edits priority, SLA, description and assignment and validates everything",
          "[work-orders]") {
  RunningSim s;
  const std::string path = "/work-orders/wo_1f92a0";
  HttpResponse r = s.sim.call("PATCH", path, s.dispatcher,
                              {{"priority", "urgent"},
                               {"slaDueAt", "2026-01-21T15:00:00Z"},
                               {"description", "Chiller down; ward cooling at risk"}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["priority"] == "urgent");
  CHECK(r.json()["slaDueAt"] == "2026-01-21T15:00:00Z");
  CHECK(r.json()["description"] == "Chiller down; ward cooling at risk");

  json techs = s.get("/technicians", s.dispatcher).json()["items"];
  REQUIRE(techs.size() >= 2);
  const std::string other =
      techs[0]["technicianId"] == "tech_45af1d" ? techs[1]["technicianId"] : techs[0]["technicianId"];
  HttpResponse reassigned = s.sim.call("PATCH", path, s.dispatcher, {{"assignedTechnicianIds", {other}}});
  REQUIRE(reassigned.status == 200);
  CHECK(reassigned.json()["assignedTechnicianIds"] == json({other}));
  const auto mine = s.get("/work-orders?technicianId=tech_45af1d&pageSize=200", s.dispatcher).json()["items"];
  CHECK(std::none_of(mine.begin(), mine.end(), [](const json& w) { return w["workOrderId"] == "wo_1f92a0"; }));

  HttpResponse unassigned = s.sim.call("PATCH", path, s.dispatcher, {{"assignedTechnicianIds", json::array()}});
  CHECK(unassigned.json()["status"] == "open");

  CHECK(s.sim.call("PATCH", path, s.dispatcher, {{"assignedTechnicianIds", {"tech_ghost"}}}).json()["error"] ==
        "unknown_technician");
  CHECK(s.sim.call("PATCH", path, s.dispatcher, {{"colour", "red"}}).status == 400);
  CHECK(s.sim.call("PATCH", path, s.dispatcher, {{"status", "completed"}}).status == 400);
  CHECK(s.sim.call("PATCH", path, s.dispatcher, {{"priority", "whenever"}}).status == 400);
  CHECK(s.sim.call("PATCH", path, s.technician, {{"priority", "low"}}).status == 403);

  HttpResponse stale = s.sim.call("PATCH", path, s.dispatcher, {{"priority", "low"}}, {{"If-Match", "\"old\""}});
  CHECK(stale.status == 412);

  // A completed work order cannot be cancelled.
  const auto completed = s.get("/work-orders?status=completed&pageSize=1", s.dispatcher).json()["items"];
  REQUIRE(completed.size() == 1);
  HttpResponse late = s.sim.call("PATCH", "/work-orders/" + completed[0]["workOrderId"].get<std::string>(),
                                 s.dispatcher, {{"status", "cancelled"}});
  CHECK(late.status == 409);
  CHECK(late.json()["error"] == "invalid_transition");
}

TEST_CASE("assignments: idempotent replay, key reuse with another body, effect counted once", "[work-orders]") {
  RunningSim s;
  const std::string path = "/work-orders/wo_1f92a0/assignments";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "asn-key-1"}};
  HttpResponse first = s.post(path, s.dispatcher, seedAssignment(), key);
  REQUIRE(first.status == 201);
  CHECK(first.header("Idempotent-Replayed").empty());
  CHECK(first.json()["assignmentId"].get<std::string>().rfind("asn_", 0) == 0);

  HttpResponse replay = s.post(path, s.dispatcher, seedAssignment(), key);
  CHECK(replay.status == 201);
  CHECK(replay.header("Idempotent-Replayed") == "true");
  CHECK(replay.json() == first.json());
  CHECK(s.effects("wo_1f92a0")["assignments"] == 1);

  json other = seedAssignment();
  other["routeSequence"] = 4;
  HttpResponse reused = s.post(path, s.dispatcher, other, key);
  CHECK(reused.status == 422);
  CHECK(reused.json()["error"] == "idempotency_key_reused");
  CHECK(s.effects("wo_1f92a0")["assignments"] == 1);

  // Without a key every POST is an effect of its own.
  CHECK(s.post(path, s.dispatcher, seedAssignment()).status == 201);
  CHECK(s.effects("wo_1f92a0")["assignments"] == 2);

  json ghost = seedAssignment();
  ghost["technicianId"] = "tech_ghost";
  CHECK(s.post(path, s.dispatcher, ghost).json()["error"] == "unknown_technician");
  json backwards = seedAssignment();
  backwards["scheduledEnd"] = "2026-01-21T12:00:00Z";
  CHECK(s.post(path, s.dispatcher, backwards).status == 400);
  CHECK(s.post(path, s.dispatcher, seedAssignment(), {{"Idempotency-Key", std::string(256, 'k')}}).status == 400);
}

TEST_CASE("a key whose first use failed carries no stored answer", "[work-orders]") {
  RunningSim s;
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "retry-after-error"}};
  json ghost = seedAssignment();
  ghost["technicianId"] = "tech_ghost";
  CHECK(s.post("/work-orders/wo_1f92a0/assignments", s.dispatcher, ghost, key).status == 422);
  HttpResponse ok = s.post("/work-orders/wo_1f92a0/assignments", s.dispatcher, seedAssignment(), key);
  CHECK(ok.status == 201);
  CHECK(ok.header("Idempotent-Replayed").empty());
}

TEST_CASE("consumptions: recorded once per key, listed as posted, stock taken from the bin", "[work-orders]") {
  RunningSim s;
  const auto stockOf = [&] {
    return s.get("/inventory?warehouseId=wh_01&partNumber=FILTER-XL", s.technician)
        .json()["items"][0]["quantityOnHand"]
        .get<int>();
  };
  const int before = stockOf();
  const std::string path = "/work-orders/wo_1f92a0/consumptions";
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "cns-key-1"}};
  HttpResponse first = s.post(path, s.technician, seedConsumption(), key);
  REQUIRE(first.status == 201);
  HttpResponse replay = s.post(path, s.technician, seedConsumption(), key);
  CHECK(replay.status == 201);
  CHECK(replay.header("Idempotent-Replayed") == "true");
  CHECK(replay.json()["consumptionId"] == first.json()["consumptionId"]);
  json other = seedConsumption();
  other["parts"][0]["quantity"] = 3;
  CHECK(s.post(path, s.technician, other, key).json()["error"] == "idempotency_key_reused");
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 1);
  CHECK(stockOf() == before - 2);

  json listed = s.get(path, s.technician).json();
  CHECK(listed["total"] == 1);
  const json& c = listed["items"][0];
  CHECK(c["consumptionId"] == first.json()["consumptionId"]);
  CHECK(c["createdAt"] == first.json()["createdAt"]);
  CHECK(c["parts"] == seedConsumption()["parts"]);
  CHECK(c["labor"] == seedConsumption()["labor"]);
  CHECK(c["customerSignature"] == seedConsumption()["customerSignature"]);

  json badToken = seedConsumption();
  badToken["customerSignature"]["signatureToken"] = "upl_unknown";
  HttpResponse unknown = s.post(path, s.technician, badToken);
  CHECK(unknown.status == 422);
  CHECK(unknown.json()["error"] == "unknown_upload");
  // The seed's signature upload belongs to wo_1f92a0, not to another work order.
  const auto otherWo = s.get("/work-orders?status=open&pageSize=1", s.dispatcher).json()["items"][0]["workOrderId"];
  CHECK(s.post("/work-orders/" + otherWo.get<std::string>() + "/consumptions", s.technician, seedConsumption())
            .json()["error"] == "unknown_upload");

  json badQty = seedConsumption();
  badQty["parts"][0]["quantity"] = 0;
  CHECK(s.post(path, s.technician, badQty).status == 400);
  CHECK(s.post(path, s.technician, json::object()).status == 400);
  CHECK(s.sim.call("POST", path, s.technician, nullptr, {{"Content-Type", "application/json"}}).status == 400);
  CHECK(s.effects("wo_1f92a0")["consumptions"] == 1);
}
