// Priming and delta pulls against the reference upstream.
#include <catch2/catch.hpp>

#include <set>

#include "error_code_checks.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::SyncFixture;
using namespace std::chrono_literals;

namespace {

// What upstream assigns to a technician, read straight from the simulator as a dispatcher.
std::set<std::string> assignedUpstream(SyncFixture& f, const std::string& technicianId) {
  const auto& dispatcher = f.sim.user("totp", "dispatch");
  const std::string token = f.sim.login(dispatcher);
  std::set<std::string> ids;
  for (int page = 1;; ++page) {
    auto r = f.sim.call("GET", "/work-orders?pageSize=200&page=" + std::to_string(page), token).json();
    for (const auto& wo : r["items"]) {
      for (const auto& t : wo["assignedTechnicianIds"]) {
        if (t == technicianId) ids.insert(wo["workOrderId"].get<std::string>());
      }
    }
    if (page * 200 >= r["total"].get<int>()) break;
  }
  return ids;
}

std::set<std::string> cached(storage::Store& store) {
  auto ids = store.workOrders().workOrderIds().value();
  return {ids.begin(), ids.end()};
}

}  // namespace

TEST_CASE("the first pull primes every assigned work order and what it needs offline", "[puller]") {
  SyncFixture f({"--seed", "7", "--technicians", "3"});
  auto& puller = f.puller();
  const std::string me = *f.technician().technicianId;

  auto report = puller.pull();
  if (!report) FAIL(report.error().describe());
  CHECK(report->prime);
  const auto expected = assignedUpstream(f, me);
  REQUIRE_FALSE(expected.empty());
  CHECK(cached(*f.store) == expected);
  CHECK(report->workOrdersStored == static_cast<int>(expected.size()));

  for (const auto& id : expected) {
    auto wo = f.store->workOrders().workOrder(id).value();
    CHECK_FALSE(wo.etag.empty());              // from GET /work-orders/{id}
    CHECK(wo.doc.contains("checklist"));       // detail-only field
    const std::string customerId = wo.doc["customerId"];
    CHECK(f.store->referenceData().reference(storage::ReferenceKind::customer, customerId).ok());
    if (wo.doc.contains("asset") && wo.doc["asset"].is_object()) {
      auto asset =
          f.store->referenceData().reference(storage::ReferenceKind::asset, wo.doc["asset"]["assetId"]).value();
      CHECK(asset.contains("warranty"));
      CHECK(asset.contains("serviceHistory"));
    }
  }
  auto technician = f.store->referenceData().reference(storage::ReferenceKind::technician, me).value();
  const std::string van = technician["vanWarehouseId"];
  CHECK_FALSE(f.store->referenceData().stock(van).value().empty());
  CHECK(f.store->referenceData().listReference(storage::ReferenceKind::part, std::nullopt, 1, 10).value().total > 0);
  CHECK(f.store->syncState().checkpoint("work-orders").value()->watermark == report->watermark);
}

TEST_CASE("a delta pull brings dispatcher edits and releases work taken away", "[puller]") {
  SyncFixture f({"--seed", "7", "--technicians", "3"});
  auto& puller = f.puller();
  const std::string me = *f.technician().technicianId;
  REQUIRE(puller.pull().ok());
  auto mine = cached(*f.store);
  REQUIRE(mine.size() >= 2);
  const std::string rescheduled = *mine.begin();
  const std::string reassigned = *std::next(mine.begin());

  const std::string dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
  nlohmann::json window = {{"start", "2026-03-02T08:00:00Z"}, {"end", "2026-03-02T12:00:00Z"}};
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + rescheduled, dispatcher, {{"appointmentWindow", window}}).status ==
          200);
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + reassigned, dispatcher,
                     {{"assignedTechnicianIds", nlohmann::json::array({*f.sim.user("sms").technicianId})}})
              .status == 200);

  // The device's clock moves on too: the window of the next pull must reach past the edits
  // (the simulator stamps them with real time, the test's clock stands still otherwise).
  f.clock.advance(60s);
  auto delta = puller.pull();
  REQUIRE(delta.ok());
  CHECK_FALSE(delta->prime);
  CHECK(f.store->workOrders().workOrder(rescheduled).value().doc["appointmentWindow"] == window);
  CHECK(f.store->workOrders().workOrder(reassigned).error().code == "not_found");
  CHECK(delta->workOrdersReleased == 1);
  CHECK(cached(*f.store) == assignedUpstream(f, me));
}

TEST_CASE("a pull cut off by server errors loses nothing and completes next time", "[puller]") {
  SyncFixture f({"--seed", "7", "--technicians", "3"});
  auto& puller = f.puller();
  REQUIRE(f.sim.admin("PUT", "/faults", {{"error503Share", 1.0}, {"pathContains", "/assets/"}}).status == 200);
  auto cut = puller.pull();
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().message.find("/assets/") != std::string::npos);
  CHECK_FALSE(f.store->syncState().checkpoint("work-orders").value().has_value());  // the window is not done

  REQUIRE(f.sim.admin("DELETE", "/faults").status == 200);
  auto again = puller.pull();
  REQUIRE(again.ok());
  CHECK(again->prime);
  CHECK(cached(*f.store) == assignedUpstream(f, *f.technician().technicianId));
}

TEST_CASE("a user who is no technician has nothing to pull", "[puller]") {
  SyncFixture f;
  auto& session = f.as(f.sim.user("totp", "dispatch"));
  REQUIRE(session.signIn().ok());
  Puller puller(f.client, *f.store, session, f.clock);
  CHECK(puller.pull().error().code == "no_technician");
}

TEST_CASE("a session revoked in the middle of a prime is renewed and the prime completes", "[puller]") {
  SyncFixture f({"--seed", "40", "--technicians", "2"});
  auto& puller = f.puller();
  int requests = 0;
  f.http.before = [&](const platform::HttpRequest&) {
    if (++requests == 10) REQUIRE(f.sim.admin("POST", "/sessions/revoke", nlohmann::json::object()).status == 200);
  };
  const std::string before = f.session->token();
  f.clock.advance(30s);  // a fresh TOTP period for the sign-in that follows
  auto report = puller.pull();
  if (!report) FAIL(report.error().message);
  CHECK(requests > 10);
  CHECK(f.session->token() != before);
  CHECK(cached(*f.store) == assignedUpstream(f, *f.technician().technicianId));
}

TEST_CASE("a prime cut by dropped connections resumes without loss or duplicates", "[puller]") {
  SyncFixture f({"--seed", "60", "--technicians", "2"});
  auto& puller = f.puller();
  REQUIRE(f.sim.admin("PUT", "/faults", {{"dropShare", 1.0}, {"pathContains", "/work-orders/"}}).status == 200);
  auto cut = puller.pull();
  REQUIRE_FALSE(cut.ok());
  REQUIRE(f.sim.admin("DELETE", "/faults").status == 200);
  auto resumed = puller.pull();
  if (!resumed) FAIL(resumed.error().message);
  const auto expected = assignedUpstream(f, *f.technician().technicianId);
  CHECK(cached(*f.store) == expected);
  CHECK(f.store->workOrders().workOrderIds().value().size() == expected.size());  // no duplicates
}

TEST_CASE("a prime cut off after its first page keeps that page and the next round reads only the rest",
          "[puller]") {
  // 600 generated, about 500 assigned: three list pages of 200.
  SyncFixture f({"--seed", "600", "--technicians", "1"});
  auto& puller = f.puller();
  const auto expected = assignedUpstream(f, *f.technician().technicianId);
  REQUIRE(expected.size() > 2 * static_cast<std::size_t>(tuning::kPullPageSize));

  const auto isDetail = [](const platform::HttpRequest& r) {
    return r.method == "GET" && r.url.find("/work-orders/wo_") != std::string::npos;
  };
  int details = 0;
  bool cutting = false;
  f.http.before = [&](const platform::HttpRequest& r) {
    if (!isDetail(r)) return;
    // Half-way through the second page's details, upstream stops answering them.
    if (++details == tuning::kPullPageSize + tuning::kPullPageSize / 2 && !cutting) {
      cutting = true;
      REQUIRE(f.sim.admin("PUT", "/faults", {{"dropShare", 1.0}, {"pathContains", "/work-orders/wo_"}}).status == 200);
    }
  };
  auto cut = puller.pull();
  REQUIRE_FALSE(cut.ok());
  // The first page is stored whole; nothing of the second (its details are stored together).
  const auto afterCut = cached(*f.store);
  CHECK(afterCut.size() == static_cast<std::size_t>(tuning::kPullPageSize));
  for (const auto& id : afterCut) CHECK(expected.count(id) == 1);
  REQUIRE_FALSE(f.store->syncState().checkpoint("work-orders").value().has_value());  // still a prime

  REQUIRE(f.sim.admin("DELETE", "/faults").status == 200);
  std::set<std::string> readAgain;
  f.http.before = [&](const platform::HttpRequest& r) {
    if (isDetail(r)) readAgain.insert(r.url.substr(r.url.find("/work-orders/") + 13));
  };
  auto resumed = puller.pull();
  if (!resumed) FAIL(resumed.error().message);
  CHECK(resumed->prime);
  // Only the work orders the cut round did not store are read in detail again.
  CHECK(readAgain.size() == expected.size() - afterCut.size());
  for (const auto& id : afterCut) CHECK(readAgain.count(id) == 0);
  CHECK(resumed->workOrdersStored == static_cast<int>(expected.size() - afterCut.size()));
  CHECK(cached(*f.store) == expected);
  // The reference data of the first page's work orders is there too, though they were not read again.
  for (const auto& id : afterCut) {
    const auto wo = f.store->workOrders().workOrder(id).value();
    const std::string customer = wo.doc["customerId"];
    CHECK(f.store->referenceData().reference(storage::ReferenceKind::customer, customer).ok());
  }
}
