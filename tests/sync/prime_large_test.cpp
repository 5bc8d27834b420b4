// A prime of 10,000 generated work orders, then a delta after a few server changes.
#include <catch2/catch.hpp>

#include "sync_fixture.hpp"

using namespace fieldagent;
using fieldagent::testing::SyncFixture;
using namespace std::chrono_literals;

TEST_CASE("10,000 work orders prime completely and a delta brings exactly the changed ones", "[puller][slow]") {
  SyncFixture f({"--seed", "10000", "--technicians", "1"});
  auto& puller = f.puller();
  auto prime = puller.pull();
  if (!prime) FAIL(prime.error().message);
  const auto cachedCount = f.store->workOrders().workOrderIds().value().size();
  const std::string token = f.sim.login(f.sim.user("totp", "dispatch"));
  const auto upstreamTotal =
      f.sim.call("GET", "/work-orders?pageSize=1&technicianId=" + *f.technician().technicianId, token)
          .json()["total"]
          .get<std::size_t>();
  CHECK(cachedCount == upstreamTotal);
  CHECK(cachedCount >= 8000);  // all but the unassigned "open" ones (about 15%)
  CHECK(prime->workOrdersStored == static_cast<int>(cachedCount));

  // Five dispatcher edits on work still to do (finished work is not edited), then a delta a
  // minute later.
  std::vector<std::string> ids;
  for (const auto& id : f.store->workOrders().workOrderIds().value()) {
    const std::string status = f.store->workOrders().workOrder(id).value().doc["status"];
    if ((status == "scheduled" || status == "en_route" || status == "on_site") && ids.size() < 5 &&
        f.store->workOrders().workOrder(id).value().doc["priority"] != "low") {
      ids.push_back(id);
    }
  }
  REQUIRE(ids.size() == 5);
  for (const auto& id : ids) {
    REQUIRE(f.sim.call("PATCH", "/work-orders/" + id, token, {{"priority", "low"}}).status == 200);
  }
  f.clock.advance(60s);
  auto delta = puller.pull();
  if (!delta) FAIL(delta.error().message);
  CHECK_FALSE(delta->prime);
  CHECK(delta->workOrdersStored == 5);
  for (const auto& id : ids) CHECK(f.store->workOrders().workOrder(id).value().doc["priority"] == "low");
}
