#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::RawDb;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::StoreFixture;

namespace {

WallTime at(const std::string& iso) {
  WallTime t;
  REQUIRE(platform::parseIso8601(iso, t));
  return t;
}

std::vector<std::string> ids(const Page<WorkOrder>& page) {
  std::vector<std::string> out;
  for (const auto& wo : page.items) out.push_back(wo.workOrderId);
  return out;
}

}  // namespace

TEST_CASE("fields the agent does not know survive a round trip through the cache and a reopen", "[work_orders]") {
  StoreFixture f;
  Json doc = sampleWorkOrder("wo_1");
  doc["x-vendorExtension"] = {{"nested", {1, 2.5, "three", nullptr, true}}, {"emoji", "Kühlung ❄"}};
  doc["largeCounter"] = 9007199254740993ull;  // beyond a double's exact range
  doc["site"]["address"]["geo"] = {{"lat", 33.7490}, {"lon", -84.3880}};
  REQUIRE(f.store->workOrders().upsertWorkOrder({doc, "\"v1\""}).ok());

  f.reopen();
  auto wo = f.store->workOrders().workOrder("wo_1");
  REQUIRE(wo.ok());
  CHECK(wo->serverDoc == doc);
  CHECK(wo->doc == doc);
  CHECK(wo->doc["largeCounter"].get<std::uint64_t>() == 9007199254740993ull);
  CHECK(wo->etag == "\"v1\"");
  CHECK(wo->serverUpdatedAt == "2026-01-21T09:30:00Z");
  CHECK_FALSE(wo->hasLocalChanges);

  // A local change on top keeps the unknown fields too.
  f.moveStatus("wo_1", "en_route");
  auto after = f.store->workOrders().workOrder("wo_1");
  CHECK(after->doc["x-vendorExtension"] == doc["x-vendorExtension"]);
  CHECK(after->doc["status"] == "en_route");
}

TEST_CASE("a batch with a work order lacking its id is refused whole", "[work_orders]") {
  StoreFixture f;
  Json bad = sampleWorkOrder("wo_2");
  bad.erase("workOrderId");
  auto r = f.store->workOrders().upsertWorkOrders({{sampleWorkOrder("wo_1"), ""}, {bad, ""}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "invalid");
  CHECK(r.error().message.find("2 of 2") != std::string::npos);
  CHECK(f.store->workOrders().workOrderIds()->empty());
  CHECK(f.store->workOrders().upsertWorkOrders({{Json::array({1, 2}), ""}}).error().code == "invalid");
}

TEST_CASE("reads show the technician's view until upstream has confirmed and sent a fresh copy", "[work_orders]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1", "scheduled"), "\"v1\""}).ok());
  const auto write = f.moveStatus("wo_1", "en_route");

  auto wo = f.store->workOrders().workOrder("wo_1");
  CHECK(wo->doc["status"] == "en_route");
  CHECK(wo->serverDoc["status"] == "scheduled");
  CHECK(wo->hasLocalChanges);
  WorkOrderQuery enRoute;
  enRoute.status = "en_route";
  CHECK(ids(*f.store->workOrders().listWorkOrders(enRoute)) == std::vector<std::string>{"wo_1"});
  WorkOrderQuery scheduled;
  scheduled.status = "scheduled";
  CHECK(f.store->workOrders().listWorkOrders(scheduled)->total == 0);

  // A dispatcher edit arrives before the move is sent: both show.
  Json edited = sampleWorkOrder("wo_1", "scheduled");
  edited["description"] = "Chiller not cooling; customer says compressor is loud";
  edited["updatedAt"] = "2026-01-21T10:00:00Z";
  REQUIRE(f.store->workOrders().upsertWorkOrder({edited, "\"v2\""}).ok());
  wo = f.store->workOrders().workOrder("wo_1");
  CHECK(wo->doc["status"] == "en_route");
  CHECK(wo->doc["description"] == edited["description"]);

  // Confirmed upstream but no fresh copy yet: the change stays visible.
  const auto opId = write.operations.at(0).id;
  REQUIRE(f.store->outbox().markInFlight(opId).ok());
  REQUIRE(f.store->outbox().markDone(opId, Json{{"status", "en_route"}}).ok());
  CHECK(f.store->workOrders().workOrder("wo_1")->doc["status"] == "en_route");

  // The fresh copy carries it; the local layer is gone.
  Json confirmed = edited;
  confirmed["status"] = "en_route";
  confirmed["updatedAt"] = "2026-01-21T10:05:00Z";
  REQUIRE(f.store->workOrders().upsertWorkOrder({confirmed, "\"v3\""}).ok());
  wo = f.store->workOrders().workOrder("wo_1");
  CHECK_FALSE(wo->hasLocalChanges);
  CHECK(wo->doc == confirmed);
}

TEST_CASE("notes the technician adds are appended: upstream's new notes stay in view, each write stores its own",
          "[work_orders][local_write]") {
  StoreFixture f;
  Json server = sampleWorkOrder("wo_1");
  server["notes"] = Json::array({{{"text", "dispatch: gate code 4711"}}});
  REQUIRE(f.store->workOrders().upsertWorkOrder({server, "\"v1\""}).ok());
  auto note = [&](const std::string& text) {
    LocalWrite write;
    write.workOrderId = "wo_1";
    write.appends.emplace_back("notes", Json{{"text", text}, {"pending", true}});
    write.operations.push_back({"note", {{"note", text}}, "", {}, {}});
    REQUIRE(f.store->localWrites().applyLocalWrite(write).ok());
  };
  note("replaced the filter");
  note("customer asks for a call");
  auto texts = [&] {
    std::vector<std::string> out;
    const auto wo = f.store->workOrders().workOrder("wo_1");
    REQUIRE(wo.ok());
    for (const auto& n : wo->doc["notes"]) out.push_back(n["text"]);
    return out;
  };
  CHECK(texts() == std::vector<std::string>{"dispatch: gate code 4711", "replaced the filter", "customer asks for a call"});

  // The dispatcher adds a note upstream before ours are sent: the pull shows it, ours stay after.
  server["notes"].push_back({{"text", "dispatch: bring the long ladder"}});
  server["updatedAt"] = "2026-01-21T10:00:00Z";
  REQUIRE(f.store->workOrders().upsertWorkOrder({server, "\"v2\""}).ok());
  CHECK(texts() == std::vector<std::string>{"dispatch: gate code 4711", "dispatch: bring the long ladder",
                                            "replaced the filter", "customer asks for a call"});

  // Each write keeps its own note, not the list so far: the n-th note costs what the first did.
  f.close();
  RawDb raw(f.options.dataDir / "fieldagent.db");
  for (const auto& patch : raw.column("SELECT patch FROM local_writes ORDER BY id"))
    CHECK(Json::parse(patch)["$append"]["notes"].size() == 1);
  f.reopen();
  CHECK(texts().size() == 4);

  // A merge patch may not smuggle in the append key.
  LocalWrite sneaky;
  sneaky.workOrderId = "wo_1";
  sneaky.workOrderPatch = Json{{"$append", {{"status", Json::array({"x"})}}}};
  sneaky.operations.push_back({"note", {{"note", "x"}}, "", {}, {}});
  CHECK(f.store->localWrites().applyLocalWrite(sneaky).error().code == "invalid");
}

TEST_CASE("an upstream copy older than the cached one does not roll the cache back", "[work_orders]") {
  StoreFixture f;
  Json newer = sampleWorkOrder("wo_1", "on_site");
  newer["updatedAt"] = "2026-01-21T12:00:00Z";
  REQUIRE(f.store->workOrders().upsertWorkOrder({newer, "\"v5\""}).ok());
  Json older = sampleWorkOrder("wo_1", "scheduled");
  older["updatedAt"] = "2026-01-21T11:00:00+00:00";
  REQUIRE(f.store->workOrders().upsertWorkOrder({older, "\"v4\""}).ok());
  auto wo = f.store->workOrders().workOrder("wo_1");
  CHECK(wo->doc["status"] == "on_site");
  CHECK(wo->etag == "\"v5\"");
}

TEST_CASE("listing filters and pages the cache as upstream's GET /work-orders does", "[work_orders]") {
  StoreFixture f;
  std::vector<ServerWorkOrder> batch;
  for (int i = 0; i < 25; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "wo_%02d", i);
    Json doc = sampleWorkOrder(id, i % 3 == 0 ? "open" : "scheduled");
    doc["customerId"] = i % 2 == 0 ? "cust_even" : "cust_odd";
    char sla[32], updated[32];
    std::snprintf(sla, sizeof sla, "2026-02-%02dT12:00:00Z", i + 1);
    std::snprintf(updated, sizeof updated, "2026-01-01T00:%02d:00Z", 59 - i);  // reverse of id order
    doc["slaDueAt"] = sla;
    doc["updatedAt"] = updated;
    doc["assignedTechnicianIds"] = i < 5 ? Json::array({"tech_a", "tech_b"}) : Json::array({"tech_c"});
    batch.push_back({doc, ""});
  }
  REQUIRE(f.store->workOrders().upsertWorkOrders(batch).ok());

  WorkOrderQuery q;
  q.pageSize = 10;
  q.page = 3;
  auto page = f.store->workOrders().listWorkOrders(q);
  REQUIRE(page.ok());
  CHECK(page->total == 25);
  CHECK(ids(*page) == std::vector<std::string>{"wo_20", "wo_21", "wo_22", "wo_23", "wo_24"});

  WorkOrderQuery byCustomer;
  byCustomer.customerId = "cust_odd";
  CHECK(f.store->workOrders().listWorkOrders(byCustomer)->total == 12);

  WorkOrderQuery byStatusAndCustomer;
  byStatusAndCustomer.status = "open";
  byStatusAndCustomer.customerId = "cust_even";
  CHECK(ids(*f.store->workOrders().listWorkOrders(byStatusAndCustomer)) ==
        std::vector<std::string>{"wo_00", "wo_06", "wo_12", "wo_18", "wo_24"});

  WorkOrderQuery byTech;
  byTech.technicianId = "tech_b";
  CHECK(f.store->workOrders().listWorkOrders(byTech)->total == 5);

  WorkOrderQuery slaWindow;  // inclusive at both ends
  slaWindow.slaDueFrom = at("2026-02-03T12:00:00Z");
  slaWindow.slaDueTo = at("2026-02-05T12:00:00Z");
  CHECK(ids(*f.store->workOrders().listWorkOrders(slaWindow)) == std::vector<std::string>{"wo_02", "wo_03", "wo_04"});

  WorkOrderQuery updatedWindow;
  updatedWindow.updatedFrom = at("2026-01-01T00:57:00Z");
  updatedWindow.sort = WorkOrderSort::updatedAt;
  CHECK(ids(*f.store->workOrders().listWorkOrders(updatedWindow)) ==
        std::vector<std::string>{"wo_02", "wo_01", "wo_00"});

  WorkOrderQuery bad;
  bad.pageSize = 201;
  CHECK(f.store->workOrders().listWorkOrders(bad).error().code == "invalid");
  bad.pageSize = 10;
  bad.page = 0;
  CHECK(f.store->workOrders().listWorkOrders(bad).error().code == "invalid");
}

TEST_CASE("a work order no longer assigned leaves the cache unless it holds unconfirmed work", "[work_orders]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders()
              .upsertWorkOrders({{sampleWorkOrder("wo_idle"), ""}, {sampleWorkOrder("wo_busy"), ""}})
              .ok());
  f.moveStatus("wo_busy", "en_route");

  CHECK(*f.store->workOrders().releaseWorkOrder("wo_idle") == ReleaseOutcome::removed);
  CHECK(f.store->workOrders().workOrder("wo_idle").error().code == "not_found");
  CHECK(*f.store->workOrders().releaseWorkOrder("wo_busy") == ReleaseOutcome::keptForLocalWork);
  auto busy = f.store->workOrders().workOrder("wo_busy");
  REQUIRE(busy.ok());
  CHECK(busy->detached);
  CHECK(busy->doc["status"] == "en_route");
  CHECK(*f.store->workOrders().releaseWorkOrder("wo_never") == ReleaseOutcome::notCached);
}

TEST_CASE("a local write that cannot be done whole leaves nothing behind", "[work_orders][local_write]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());

  LocalWrite unknown;
  unknown.workOrderId = "wo_missing";
  unknown.workOrderPatch = Json{{"status", "en_route"}};
  unknown.operations.push_back({"status", {{"status", "en_route"}}, "", {}, {}});
  CHECK(f.store->localWrites().applyLocalWrite(unknown).error().code == "not_found");

  LocalWrite noOps;
  noOps.workOrderId = "wo_1";
  noOps.workOrderPatch = Json{{"status", "en_route"}};
  CHECK(f.store->localWrites().applyLocalWrite(noOps).error().code == "invalid");

  // The second operation names a dependency that does not exist: the first one, the stock
  // change and the view change must not land either.
  LocalWrite badDep;
  badDep.workOrderId = "wo_1";
  badDep.workOrderPatch = Json{{"status", "completed"}};
  badDep.stock.push_back({"van_7", "FILTER-XL", "A-14", -2});
  badDep.operations.push_back({"status", {{"status", "completed"}}, "", {}, {}});
  badDep.operations.push_back({"consumption", {{"parts", Json::array()}}, "", {999}, {}});
  auto r = f.store->localWrites().applyLocalWrite(badDep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "invalid");

  LocalWrite forward;
  forward.workOrderId = "wo_1";
  forward.operations.push_back({"note", {{"text", "a"}}, "", {}, {1}});
  CHECK(f.store->localWrites().applyLocalWrite(forward).error().code == "invalid");

  CHECK(f.store->workOrders().workOrder("wo_1")->doc["status"] == "scheduled");
  CHECK(f.store->outbox().outboxCounts()->byState.at(OpState::pending) == 0);
  CHECK(f.store->referenceData().stock("van_7")->empty());
  f.close();
  RawDb raw(f.options.dataDir / "fieldagent.db");
  CHECK(raw.count("SELECT COUNT(*) FROM local_writes") == 0);
}

TEST_CASE("reference data is kept whole and found by key, customer and asset", "[reference]") {
  StoreFixture f;
  const Json customer = {{"customerId", "cust_1"}, {"name", "Eastside Cold Storage"}, {"tier", "gold"}};
  const Json site = {{"siteId", "site_1"}, {"customerId", "cust_1"}, {"address", {{"city", "Atlanta"}}}};
  const Json otherSite = {{"siteId", "site_2"}, {"customerId", "cust_2"}};
  const Json asset = {{"assetId", "asset_1"},
                      {"serialNumber", "SN-1"},
                      {"serviceHistory", Json::array({{{"workOrderId", "wo_0"}, {"resolution", "replaced fan"}}})},
                      {"warranty", {{"start", "2025-01-01"}, {"end", "2027-01-01"}, {"coverage", {"parts"}}}}};
  const Json contract = Json::parse(R"({"contractId":"ctr_1","customerId":"cust_1","type":"full",
    "sla":{"responseHours":4,"resolutionHours":24},
    "entitlements":[{"appliesTo":"parts","partNumbers":["FILTER-XL"],"laborTypes":null,"coveredPercent":100}],
    "assetIds":["asset_1","asset_2"]})");
  const Json part = {{"partNumber", "FILTER-XL"}, {"unitPrice", 42.5}, {"serialized", false}};
  const Json tech = {{"technicianId", "tech_1"}, {"vanWarehouseId", "van_7"}};

  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::customer, {customer}).ok());
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::site, {site, otherSite}).ok());
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::asset, {asset}).ok());
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::contract, {contract}).ok());
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::part, {part}).ok());
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::technician, {tech}).ok());
  f.reopen();

  CHECK(*f.store->referenceData().reference(ReferenceKind::customer, "cust_1") == customer);
  CHECK(*f.store->referenceData().reference(ReferenceKind::asset, "asset_1") == asset);
  CHECK(*f.store->referenceData().reference(ReferenceKind::part, "FILTER-XL") == part);
  CHECK(*f.store->referenceData().reference(ReferenceKind::technician, "tech_1") == tech);
  CHECK(f.store->referenceData().reference(ReferenceKind::customer, "cust_9").error().code == "not_found");
  auto sites = f.store->referenceData().listReference(ReferenceKind::site, std::string("cust_1"), 1, 50);
  REQUIRE(sites.ok());
  CHECK(sites->total == 1);
  CHECK(sites->items.at(0) == site);
  CHECK(f.store->referenceData().listReference(ReferenceKind::site, std::nullopt, 1, 50)->total == 2);
  auto contracts = f.store->referenceData().contractsForAsset("asset_2");
  REQUIRE(contracts.ok());
  REQUIRE(contracts->size() == 1);
  CHECK(contracts->at(0)["entitlements"][0]["coveredPercent"] == 100);

  // A contract that no longer covers an asset stops being found for it.
  Json narrowed = contract;
  narrowed["assetIds"] = {"asset_1"};
  REQUIRE(f.store->referenceData().upsertReference(ReferenceKind::contract, {narrowed}).ok());
  CHECK(f.store->referenceData().contractsForAsset("asset_2")->empty());

  auto bad = f.store->referenceData().upsertReference(ReferenceKind::part, {part, Json{{"description", "no key"}}});
  CHECK(bad.error().code == "invalid");
}

TEST_CASE("van stock shows upstream's quantity less the parts captured and not yet reflected", "[reference][stock]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  REQUIRE(f.store->referenceData()
              .upsertStock({Json{{"warehouseId", "van_7"},
                                 {"partNumber", "FILTER-XL"},
                                 {"bin", "A-14"},
                                 {"quantityOnHand", 10},
                                 {"updatedAt", "2026-01-21T08:00:00Z"}}})
              .ok());

  LocalWrite use;
  use.workOrderId = "wo_1";
  use.stock.push_back({"van_7", "FILTER-XL", "A-14", -2});
  use.operations.push_back({"consumption", {{"parts", {{{"partNumber", "FILTER-XL"}, {"quantity", 2}}}}}, "", {}, {}});
  const auto first = f.store->localWrites().applyLocalWrite(use);
  REQUIRE(first.ok());
  const auto second = f.store->localWrites().applyLocalWrite(use);
  REQUIRE(second.ok());

  auto line = f.store->referenceData().stock("van_7", std::string("FILTER-XL"));
  REQUIRE(line->size() == 1);
  CHECK(line->at(0).quantityOnHand == 6);
  CHECK(line->at(0).doc["quantityOnHand"] == 6);

  // The first consumption is confirmed and upstream's figure now includes it; the second is
  // still local.
  const auto firstOp = first->operations.at(0).id;
  REQUIRE(f.store->outbox().markInFlight(firstOp).ok());
  REQUIRE(f.store->outbox().markDone(firstOp, Json{{"consumptionId", "cns_1"}}).ok());
  REQUIRE(f.store->referenceData()
              .upsertStock(
                  {Json{{"warehouseId", "van_7"}, {"partNumber", "FILTER-XL"}, {"bin", "A-14"}, {"quantityOnHand", 8}}})
              .ok());
  line = f.store->referenceData().stock("van_7");
  CHECK(line->at(0).serverQuantity == 8);
  CHECK(line->at(0).quantityOnHand == 6);

  // Discarding the second gives its parts back to the local figure.
  REQUIRE(f.store->outbox().discard(second->operations.at(0).id).ok());
  CHECK(f.store->referenceData().stock("van_7")->at(0).quantityOnHand == 8);

  // A part captured that upstream never listed for the van shows as a negative line.
  LocalWrite unknownPart;
  unknownPart.workOrderId = "wo_1";
  unknownPart.stock.push_back({"van_7", "BELT-9", "", -1});
  unknownPart.operations.push_back({"consumption", {{"parts", Json::array()}}, "", {}, {}});
  REQUIRE(f.store->localWrites().applyLocalWrite(unknownPart).ok());
  CHECK(f.store->referenceData().stock("van_7", std::string("BELT-9"))->at(0).quantityOnHand == -1);

  CHECK(f.store->referenceData().upsertStock({Json{{"warehouseId", "van_7"}, {"partNumber", "X"}}}).error().code ==
        "invalid");
}

TEST_CASE("sync checkpoints and the last sync run survive a reopen", "[sync_state]") {
  StoreFixture f;
  CHECK_FALSE(f.store->syncState().checkpoint("work-orders")->has_value());
  REQUIRE(f.store->syncState().saveCheckpoint("work-orders", {"2026-01-21T09:30:00Z", "opaque-cursor==", {}}).ok());
  REQUIRE(f.store->syncState().saveCheckpoint("work-orders", {"2026-01-21T10:30:00Z", "next", {}}).ok());
  REQUIRE(f.store->syncState()
              .recordSyncRun({f.clock.now(), f.clock.now() + std::chrono::seconds(3), "ok", "42 pulled"})
              .ok());
  REQUIRE(
      f.store->syncState().recordSyncRun({f.clock.now(), f.clock.now() + std::chrono::seconds(9), "offline", ""}).ok());
  f.reopen();
  auto cp = f.store->syncState().checkpoint("work-orders");
  REQUIRE(cp->has_value());
  CHECK((*cp)->watermark == "2026-01-21T10:30:00Z");
  CHECK((*cp)->cursor == "next");
  auto last = f.store->syncState().lastSyncRun();
  REQUIRE(last->has_value());
  CHECK((*last)->outcome == "offline");
}

TEST_CASE("the sync-run log keeps the recent runs only", "[sync_state]") {
  StoreFixture f;
  for (int i = 0; i < tuning::kSyncRunsKept + 25; ++i) {
    REQUIRE(f.store->syncState().recordSyncRun({f.clock.now(), f.clock.now(), "ok", std::to_string(i)}).ok());
  }
  CHECK((*f.store->syncState().lastSyncRun())->detail == std::to_string(tuning::kSyncRunsKept + 24));
  f.close();
  RawDb raw(f.options.dataDir / "fieldagent.db");
  CHECK(raw.count("SELECT COUNT(*) FROM sync_runs") == tuning::kSyncRunsKept);
}
