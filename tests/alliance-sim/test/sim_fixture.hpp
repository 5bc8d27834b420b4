#pragma once
// A running alliance-sim with the demo users logged in, for the HTTP tests.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim_process.hpp"

namespace fieldagent::testing {

using nlohmann::json;

struct RunningSim {
  explicit RunningSim(std::vector<std::string> args = {"--seed", "40"})
      : sim(args), dispatcher(sim.login(sim.user("totp", "dispatch"))), technician(sim.login(sim.technicianUser())) {}

  HttpResponse get(const std::string& path, const std::string& token) { return sim.call("GET", path, token); }
  HttpResponse post(const std::string& path, const std::string& token, const json& body,
                    const std::map<std::string, std::string>& headers = {}) {
    return sim.call("POST", path, token, body, headers);
  }
  json effects(const std::string& workOrderId) {
    return sim.admin("GET", "/effects?workOrderId=" + workOrderId).json();
  }

  SimProcess sim;
  std::string dispatcher;  // customers, workOrders, dispatch, inventory
  std::string technician;  // tech_45af1d: workOrders, customers, inventory
};

inline json seedConsumption() {
  return json::parse(R"({
    "parts": [{"partNumber": "FILTER-XL", "description": "XL Air Filter", "quantity": 2, "uom": "EA",
               "warehouseId": "wh_01", "bin": "A-14", "serialNumbers": [], "lotNumber": null}],
    "labor": [{"technicianId": "tech_45af1d", "laborType": "regular", "hours": 3.5,
               "startAt": "2026-01-21T14:00:00Z", "endAt": "2026-01-21T17:30:00Z",
               "notes": "Diagnostics and filter replacement"}],
    "customerSignature": {"name": "Dana Harris", "signedAt": "2026-01-21T17:35:00Z", "signatureToken": "upl_7fa223"}
  })");
}

inline json seedAssignment() {
  return json::parse(R"({"technicianId": "tech_45af1d", "scheduledStart": "2026-01-21T13:00:00Z",
    "scheduledEnd": "2026-01-21T17:00:00Z", "routeSequence": 3, "notifyTechnician": true,
    "note": "Urgent—SLA breach risk"})");
}

}  // namespace fieldagent::testing
