// Reference data: customers, sites, assets, contracts, parts, inventory, technicians.
#include "sim_fixture.hpp"

using namespace fieldagent::testing;

TEST_CASE("customers list, page and read one - unknown ids are 404", "[reference]") {
  RunningSim s({"--seed", "200"});
  json page = s.get("/customers?pageSize=3", s.technician).json();
  CHECK(page["total"] == 8);  // 200 work orders / 25
  CHECK(page["items"].size() == 3);
  json seed = s.get("/customers/cust_88b32e", s.technician).json();
  CHECK(seed["customerId"] == "cust_88b32e");
  CHECK(seed["name"].is_string());
  CHECK(seed["updatedAt"].is_string());
  CHECK(s.get("/customers/cust_nobody", s.technician).status == 404);
  CHECK(s.get("/customers?pageSize=500", s.technician).status == 400);
  CHECK(s.post("/customers", s.dispatcher, json::object()).status == 405);

  const std::string cut = page["items"][0]["updatedAt"];
  json recent = s.get("/customers?pageSize=200&updatedFrom=" + cut, s.technician).json();
  CHECK(recent["total"].get<int>() >= 1);
  CHECK(recent["total"].get<int>() <= 8);
  for (const auto& c : recent["items"]) CHECK(c["updatedAt"].get<std::string>() >= cut);
  CHECK(s.get("/customers?updatedFrom=soon", s.technician).status == 400);
}

TEST_CASE("sites by customer carry the seed's site and address", "[reference]") {
  RunningSim s;
  json sites = s.get("/sites?customerId=cust_88b32e", s.technician).json();
  REQUIRE(sites["total"].get<int>() >= 1);
  const auto it = std::find_if(sites["items"].begin(), sites["items"].end(),
                               [](const json& site) { return site["siteId"] == "site_2201"; });
  REQUIRE(it != sites["items"].end());
  CHECK((*it)["address"] == json::parse(R"({"line1":"500 Eastside Blvd","city":"Atlanta","region":"GA",
                                             "postalCode":"30312","country":"US"})"));
  for (const auto& site : sites["items"]) CHECK(site["customerId"] == "cust_88b32e");
}

TEST_CASE("an asset carries warranty and service history", "[reference]") {
  RunningSim s;
  json asset = s.get("/assets/asset_9a01", s.technician).json();
  CHECK(asset["serialNumber"] == "SN-44728A");
  CHECK(asset["model"] == "Chiller CX400");
  CHECK(asset["warranty"]["start"].is_string());
  CHECK(asset["warranty"]["end"].is_string());
  CHECK(asset["warranty"]["coverage"].is_array());
  REQUIRE_FALSE(asset["serviceHistory"].empty());
  const json& h = asset["serviceHistory"][0];
  CHECK(h["workOrderId"] == "wo_0c3d55");
  CHECK(h["completedAt"] == "2025-07-14T11:20:00Z");
  CHECK(h["problemCode"] == "PM");
  CHECK(h["resolution"].is_string());
  CHECK(s.get("/assets/asset_none", s.technician).status == 404);
  CHECK(s.get("/assets?siteId=site_2201", s.technician).json()["total"].get<int>() >= 1);
}

TEST_CASE("contracts by customer carry SLA and entitlements", "[reference]") {
  RunningSim s;
  json contracts = s.get("/contracts?customerId=cust_88b32e", s.technician).json();
  REQUIRE(contracts["total"] == 1);
  const json& c = contracts["items"][0];
  for (const char* key : {"contractId", "customerId", "type", "start", "end", "sla", "entitlements", "assetIds"}) {
    CHECK(c.contains(key));
  }
  CHECK(c["sla"]["responseHours"].is_number_integer());
  CHECK(c["sla"]["resolutionHours"].is_number_integer());
  bool sawParts = false;
  for (const auto& e : c["entitlements"]) {
    CHECK((e["appliesTo"] == "parts" || e["appliesTo"] == "labor"));
    CHECK((e["partNumbers"].is_array() || e["partNumbers"].is_null()));
    CHECK((e["laborTypes"].is_array() || e["laborTypes"].is_null()));
    CHECK(e["coveredPercent"].is_number());
    sawParts = sawParts ||
               (e["appliesTo"] == "parts" && e["partNumbers"].is_array() &&
                std::find(e["partNumbers"].begin(), e["partNumbers"].end(), "FILTER-XL") != e["partNumbers"].end());
  }
  CHECK(sawParts);
  CHECK(std::find(c["assetIds"].begin(), c["assetIds"].end(), "asset_9a01") != c["assetIds"].end());
}

TEST_CASE("parts catalog and stock by warehouse, including the technician's van", "[reference]") {
  RunningSim s;
  json part = s.get("/parts?partNumber=FILTER-XL", s.technician).json();
  REQUIRE(part["total"] == 1);
  CHECK(part["items"][0]["description"] == "XL Air Filter");
  CHECK(part["items"][0]["uom"] == "EA");
  CHECK(part["items"][0]["serialized"] == false);
  CHECK(part["items"][0]["unitPrice"].is_number());
  CHECK(s.get("/parts", s.technician).json()["total"].get<int>() > 10);

  json stock = s.get("/inventory?warehouseId=wh_01&partNumber=FILTER-XL", s.technician).json();
  REQUIRE(stock["total"] == 1);
  CHECK(stock["items"][0]["bin"] == "A-14");
  CHECK(stock["items"][0]["quantityOnHand"].is_number_integer());

  json tech = s.get("/technicians/tech_45af1d", s.technician).json();
  CHECK(tech["name"] == "Jordan Reyes");
  CHECK(tech["skills"].is_array());
  const std::string van = tech["vanWarehouseId"];
  json vanStock = s.get("/inventory?warehouseId=" + van, s.technician).json();
  CHECK(vanStock["total"] == 8);
  for (const auto& row : vanStock["items"]) CHECK(row["warehouseId"] == van);
  CHECK(s.get("/technicians/tech_nobody", s.technician).status == 404);
}
