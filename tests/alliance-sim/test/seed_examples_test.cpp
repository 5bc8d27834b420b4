// The seed document's examples, run against alliance-sim with a demo user's real credentials
// and a TOTP code computed now: each succeeds and answers in the seed's response shape.
#include <chrono>

#include "fieldagent/platform/clock.hpp"
#include "sim_fixture.hpp"
#include "totp.hpp"

using namespace fieldagent::testing;

namespace {

// The seed's example responses, verbatim.
const char* kSessionExample = R"({
  "authToken": "eyJhbGciOi...",
  "expiresIn": 3600,
  "user": {"id": "u_72c19f", "name": "Service Dispatcher",
           "entitlements": ["customers", "workOrders", "dispatch", "inventory"]}
})";
const char* kWorkOrdersExample = R"({
  "items": [{
      "workOrderId": "wo_1f92a0", "number": "WO-2026-1045", "status": "scheduled", "priority": "high",
      "customerId": "cust_88b32e",
      "site": {"siteId": "site_2201", "address": {"line1": "500 Eastside Blvd", "city": "Atlanta", "region": "GA",
                                                  "postalCode": "30312", "country": "US"}},
      "asset": {"assetId": "asset_9a01", "serialNumber": "SN-44728A", "model": "Chiller CX400"},
      "problemCode": "NO_COOL", "description": "Chiller not cooling; alarms present",
      "reportedAt": "2026-01-20T13:45:00Z", "slaDueAt": "2026-01-21T17:00:00Z",
      "appointmentWindow": {"start": "2026-01-21T13:00:00Z", "end": "2026-01-21T17:00:00Z"},
      "assignedTechnicianIds": ["tech_45af1d"], "updatedAt": "2026-01-21T09:30:00Z"}],
  "page": 1, "pageSize": 50, "total": 1
})";
const char* kAssignmentExample = R"({
  "assignmentId": "asn_90e412", "workOrderId": "wo_1f92a0", "status": "scheduled", "technicianId": "tech_45af1d",
  "scheduledStart": "2026-01-21T13:00:00Z", "scheduledEnd": "2026-01-21T17:00:00Z", "createdAt": "2026-01-21T10:03:11Z"
})";
const char* kConsumptionExample = R"({
  "workOrderId": "wo_1f92a0", "consumptionId": "cns_51af80", "partsRecorded": 1, "laborEntriesRecorded": 1,
  "status": "pending_billing", "createdAt": "2026-01-21T17:36:10Z"
})";

// Same keys at every level and the same JSON kinds (string, number, array, object).
void requireSameShape(const json& expected, const json& actual, const std::string& where = "$") {
  INFO(where << ": expected " << expected.dump() << " got " << actual.dump());
  if (expected.is_object()) {
    REQUIRE(actual.is_object());
    for (const auto& [k, v] : expected.items()) {
      REQUIRE(actual.contains(k));
      requireSameShape(v, actual[k], where + "." + k);
    }
    for (const auto& [k, v] : actual.items()) REQUIRE(expected.contains(k));
  } else if (expected.is_array()) {
    REQUIRE(actual.is_array());
    if (!expected.empty()) {
      for (const auto& item : actual) requireSameShape(expected[0], item, where + "[]");
    }
  } else if (expected.is_number()) {
    REQUIRE(actual.is_number());
  } else {
    REQUIRE(actual.type() == expected.type());
  }
}

bool isIso(const json& v) {
  fieldagent::platform::WallTime t;
  return v.is_string() && fieldagent::platform::parseIso8601(v.get<std::string>(), t);
}

}  // namespace

TEST_CASE("the seed's three curl examples succeed with the seed's response shapes", "[seed]") {
  SimProcess sim({"--seed", "50"});
  const SimUser& dispatcher = sim.user("totp", "dispatch");
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(fieldagent::platform::SystemClock().now().time_since_epoch())
          .count();

  // curl --request POST --url .../sessions --header 'Authorization: Basic <token>' ...
  const json sessionBody = {{"username", dispatcher.username},
                            {"password", dispatcher.password},
                            {"tenant", "global-services"},
                            {"mfa", {{"type", "totp"}, {"code", *totpCodeFromBase32(dispatcher.totpSecret, now)}}}};
  HttpResponse session =
      httpCall("POST", sim.baseUrl() + "/sessions", sessionBody.dump(),
               {{"Authorization", "Basic " + sim.integrationToken()}, {"Content-Type", "application/json"}});
  REQUIRE(session.status == 200);
  requireSameShape(json::parse(kSessionExample), session.json());
  CHECK(session.json()["user"] == json::parse(kSessionExample)["user"]);
  const std::string token = session.json()["authToken"];
  const std::map<std::string, std::string> bearer = {{"Authorization", "Bearer " + token},
                                                     {"Content-Type", "application/json"}};

  // GET /work-orders (the seed documents its filters and example response).
  HttpResponse list =
      httpCall("GET", sim.baseUrl() + "/work-orders?customerId=cust_88b32e&status=scheduled", "", bearer);
  REQUIRE(list.status == 200);
  requireSameShape(json::parse(kWorkOrdersExample), list.json());
  const json items = list.json()["items"];
  const auto seedItem =
      std::find_if(items.begin(), items.end(), [](const json& w) { return w["workOrderId"] == "wo_1f92a0"; });
  REQUIRE(seedItem != items.end());
  CHECK(*seedItem == json::parse(kWorkOrdersExample)["items"][0]);

  // curl --request POST --url .../work-orders/wo_1f92a0/assignments ...
  HttpResponse assignment =
      httpCall("POST", sim.baseUrl() + "/work-orders/wo_1f92a0/assignments", seedAssignment().dump(), bearer);
  REQUIRE(assignment.status == 201);
  requireSameShape(json::parse(kAssignmentExample), assignment.json());
  json expectedAssignment = json::parse(kAssignmentExample);
  for (const char* key : {"workOrderId", "status", "technicianId", "scheduledStart", "scheduledEnd"}) {
    CHECK(assignment.json()[key] == expectedAssignment[key]);
  }
  CHECK(assignment.json()["assignmentId"].get<std::string>().rfind("asn_", 0) == 0);
  CHECK(isIso(assignment.json()["createdAt"]));

  // curl --request POST --url .../work-orders/wo_1f92a0/consumptions ... (signatureToken upl_7fa223)
  HttpResponse consumption =
      httpCall("POST", sim.baseUrl() + "/work-orders/wo_1f92a0/consumptions", seedConsumption().dump(), bearer);
  REQUIRE(consumption.status == 201);
  requireSameShape(json::parse(kConsumptionExample), consumption.json());
  json expectedConsumption = json::parse(kConsumptionExample);
  for (const char* key : {"workOrderId", "partsRecorded", "laborEntriesRecorded", "status"}) {
    CHECK(consumption.json()[key] == expectedConsumption[key]);
  }
  CHECK(consumption.json()["consumptionId"].get<std::string>().rfind("cns_", 0) == 0);
  CHECK(isIso(consumption.json()["createdAt"]));
}
