// The puller against an upstream that ignores the [ext] query parameters `technicianId` and
// `sort` of GET /work-orders (alliance-sim --ignore-query). The contract's fallback: filter on
// assignedTechnicianIds on the client, and read every page of a delta window, whose order then
// says nothing about updatedAt.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "error_code_checks.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::SyncFixture;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Enough work orders for several pages of 200, the puller's page size.
const std::vector<std::string> kSeed = {"--seed", "450", "--technicians", "4"};

std::vector<std::string> ignoring(std::vector<std::string> args) {
  args.insert(args.end(), {"--ignore-query", "technicianId,sort"});
  return args;
}

// Every work order upstream, by id, read as a dispatcher without the [ext] parameters.
std::map<std::string, json> allUpstream(SyncFixture& f) {
  const std::string token = f.sim.login(f.sim.user("totp", "dispatch"));
  std::map<std::string, json> all;
  for (int page = 1;; ++page) {
    auto r = f.sim.call("GET", "/work-orders?pageSize=200&page=" + std::to_string(page), token).json();
    REQUIRE(r.is_object());
    for (const auto& wo : r["items"]) all[wo["workOrderId"].get<std::string>()] = wo;
    if (page * 200 >= r["total"].get<int>()) break;
  }
  return all;
}

bool assignedTo(const json& wo, const std::string& technicianId) {
  for (const auto& t : wo["assignedTechnicianIds"]) {
    if (t == technicianId) return true;
  }
  return false;
}

std::set<std::string> assignedUpstream(SyncFixture& f, const std::string& technicianId) {
  std::set<std::string> ids;
  for (const auto& [id, wo] : allUpstream(f)) {
    if (assignedTo(wo, technicianId)) ids.insert(id);
  }
  return ids;
}

std::set<std::string> cached(storage::Store& store) {
  auto ids = store.workOrders().workOrderIds().value();
  return {ids.begin(), ids.end()};
}

std::size_t cachedCount(storage::Store& store) { return store.workOrders().workOrderIds().value().size(); }

// The cached copy of every work order is the upstream's current version.
void checkCurrent(SyncFixture& f) {
  const auto all = allUpstream(f);
  for (const auto& id : cached(*f.store)) {
    INFO(id);
    auto wo = f.store->workOrders().workOrder(id).value();
    CHECK(wo.serverUpdatedAt == all.at(id)["updatedAt"].get<std::string>());
  }
}

}  // namespace

TEST_CASE("alliance-sim with --ignore-query answers every work order in id order", "[puller][fallback]") {
  SyncFixture f(ignoring(kSeed));
  const std::string me = *f.technician().technicianId;
  const std::string token = f.sim.login(f.technician());
  const auto all = allUpstream(f);
  auto r = f.sim.call("GET", "/work-orders?pageSize=200&sort=updatedAt&technicianId=" + me, token).json();
  REQUIRE(r.is_object());
  // The technician filter is ignored: the total is every work order, not only this one's.
  CHECK(r["total"].get<std::size_t>() == all.size());
  CHECK(all.size() > assignedUpstream(f, me).size());
  // The sort is ignored: the page is in id order, which is not updatedAt order.
  std::vector<std::string> ids;
  std::vector<std::string> updated;
  for (const auto& wo : r["items"]) {
    ids.push_back(wo["workOrderId"]);
    updated.push_back(wo["updatedAt"]);
  }
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK_FALSE(std::is_sorted(updated.begin(), updated.end()));
}

TEST_CASE("a prime against an upstream ignoring technicianId and sort caches exactly the technician's work",
          "[puller][fallback]") {
  SyncFixture good(kSeed);
  SyncFixture odd(ignoring(kSeed));
  const std::string me = *odd.technician().technicianId;
  REQUIRE(*good.technician().technicianId == me);

  auto wellBehaved = good.puller().pull();
  if (!wellBehaved) FAIL(wellBehaved.error().describe());
  auto fallback = odd.puller().pull();
  if (!fallback) FAIL(fallback.error().describe());

  const auto expected = assignedUpstream(odd, me);
  REQUIRE(expected.size() >= 10);
  CHECK(cached(*odd.store) == expected);
  // The same seed on a well-behaved upstream gives the same cache.
  CHECK(cached(*odd.store) == cached(*good.store));
  CHECK(cachedCount(*odd.store) == expected.size());  // no duplicates
  CHECK(fallback->workOrdersStored == static_cast<int>(expected.size()));
  CHECK(fallback->workOrdersReleased == 0);
  // The unfiltered answer is every work order: more pages than the filtered one.
  CHECK(fallback->pages > wellBehaved->pages);
  CHECK(odd.store->syncState().checkpoint("work-orders").value()->watermark == fallback->watermark);
  checkCurrent(odd);
}

TEST_CASE("delta pulls against an upstream ignoring technicianId and sort miss nothing", "[puller][fallback]") {
  SyncFixture f(ignoring(kSeed));
  auto& puller = f.puller();
  const std::string me = *f.technician().technicianId;
  const std::string other = *f.sim.user("sms").technicianId;
  REQUIRE(puller.pull().ok());
  const auto mine = cached(*f.store);
  REQUIRE(mine.size() >= 3);

  // Edits the unsorted order hides: the first work order by id (first on page 1) becomes the
  // most recently updated one; one of mine goes to another technician; one that was not mine
  // (near the end of the id order, so on the last page) becomes mine.
  const std::string dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
  const std::string rescheduled = *mine.begin();
  const std::string reassigned = *std::next(mine.begin());
  std::string gained;
  for (const auto& [id, wo] : allUpstream(f)) {
    if (!assignedTo(wo, me)) gained = id;  // the last one not mine
  }
  REQUIRE_FALSE(gained.empty());
  const json window = {{"start", "2026-03-02T08:00:00Z"}, {"end", "2026-03-02T12:00:00Z"}};
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + rescheduled, dispatcher, {{"appointmentWindow", window}}).status ==
          200);
  REQUIRE(
      f.sim.call("PATCH", "/work-orders/" + reassigned, dispatcher, {{"assignedTechnicianIds", json::array({other})}})
          .status == 200);
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + gained, dispatcher, {{"assignedTechnicianIds", json::array({me})}})
              .status == 200);

  f.clock.advance(60s);  // the device's clock moves past the edits (see puller_test)
  auto delta = puller.pull();
  if (!delta) FAIL(delta.error().describe());
  CHECK_FALSE(delta->prime);
  CHECK(f.store->workOrders().workOrder(rescheduled).value().doc["appointmentWindow"] == window);
  CHECK(f.store->workOrders().workOrder(reassigned).error().code == "not_found");
  CHECK(f.store->workOrders().workOrder(gained).ok());
  CHECK(delta->workOrdersReleased == 1);
  CHECK(delta->workOrdersStored == 2);  // the rescheduled and the gained one
  const auto expected = assignedUpstream(f, me);
  CHECK(cached(*f.store) == expected);
  CHECK(cachedCount(*f.store) == expected.size());
  checkCurrent(f);

  // The watermark is the window's end, not the updatedAt of whatever came last: a pull with no
  // change in between stores nothing new and loses nothing.
  const std::string watermark = f.store->syncState().checkpoint("work-orders").value()->watermark;
  CHECK(watermark == delta->watermark);
  for (const auto& id : cached(*f.store))
    CHECK(f.store->workOrders().workOrder(id).value().serverUpdatedAt <= watermark);
  f.clock.advance(60s);
  auto quiet = puller.pull();
  REQUIRE(quiet.ok());
  CHECK(quiet->workOrdersStored == 0);
  CHECK(quiet->workOrdersReleased == 0);
  CHECK(quiet->watermark >= watermark);  // the server's Date has whole seconds
  CHECK(cached(*f.store) == expected);
}

TEST_CASE("work reassigned while an unsorted window is paged is settled by the next pull", "[puller][fallback]") {
  SyncFixture f(ignoring(kSeed));
  const std::string me = *f.technician().technicianId;
  const std::string other = *f.sim.user("sms").technicianId;
  const auto before = allUpstream(f);
  std::string lost;    // mine, first in id order: on page 1, already read when it changes
  std::string gained;  // not mine, last in id order: on the last page, read after it changes
  for (const auto& [id, wo] : before) {
    if (assignedTo(wo, me) && lost.empty()) lost = id;
    if (!assignedTo(wo, me)) gained = id;
  }
  REQUIRE_FALSE(lost.empty());
  REQUIRE_FALSE(gained.empty());

  auto& puller = f.puller();
  const std::string dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
  bool edited = false;
  f.http.before = [&](const platform::HttpRequest& request) {
    if (edited || request.url.find("/work-orders?") == std::string::npos ||
        request.url.find("page=2") == std::string::npos) {
      return;
    }
    edited = true;
    REQUIRE(f.sim.call("PATCH", "/work-orders/" + lost, dispatcher, {{"assignedTechnicianIds", json::array({other})}})
                .status == 200);
    REQUIRE(f.sim.call("PATCH", "/work-orders/" + gained, dispatcher, {{"assignedTechnicianIds", json::array({me})}})
                .status == 200);
  };
  auto prime = puller.pull();
  if (!prime) FAIL(prime.error().describe());
  REQUIRE(edited);
  f.http.before = nullptr;

  f.clock.advance(60s);
  auto delta = puller.pull();
  if (!delta) FAIL(delta.error().describe());
  const auto expected = assignedUpstream(f, me);
  CHECK(expected.count(gained) == 1);
  CHECK(expected.count(lost) == 0);
  CHECK(cached(*f.store) == expected);
  CHECK(cachedCount(*f.store) == expected.size());
  checkCurrent(f);
}
