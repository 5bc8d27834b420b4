// The fault soak (label slow): many technician days in a row on one agent and one alliance-sim,
// each day under a fault picked at random (seeded, so a run repeats): resets, stalls, storms,
// a partition, offline, revocation, a server kill. At the end every effect is upstream exactly
// once and nothing is lost. FIELDAGENT_FAULT_SOAK_DAYS sets the number of days (default 14: each fault twice),
// FIELDAGENT_FAULT_SOAK_SEED the fault sequence (default 9).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <algorithm>
#include <random>

#include "fault_rig.hpp"

using namespace fieldagent;
using namespace fieldagent::testing;
using Action = FaultProxy::Action;

namespace {

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

}  // namespace

TEST_CASE("fault soak: a fault a day for many days and every effect once at the end", "[fault][soak]") {
  const int days = envInt("FIELDAGENT_FAULT_SOAK_DAYS", 14);
  const auto seed = static_cast<std::uint32_t>(envInt("FIELDAGENT_FAULT_SOAK_SEED", 9));
  FaultRig rig("soak", 40 * days + 60);
  std::mt19937 pick(seed);  // the order of faults only; its values need not match across libraries
  const std::string posts = "POST /integrations/int_local/work-orders/";
  std::map<std::string, int> tried;
  std::vector<int> order{0, 1, 2, 3, 4, 5, 6};  // each fault once per week, in a shuffled order
  for (int day = 0; day < days; ++day) {
    if (day % 7 == 0) std::shuffle(order.begin(), order.end(), pick);
    const int kind = order[static_cast<std::size_t>(day % 7)];
    const auto work = rig.scheduledWorkOrders(2);
    INFO("day " << day << " fault " << kind);
    switch (kind) {
      case 0:
        ++tried["reset"];
        for (int i = 0; i < 3; ++i) {
          rig.proxy->addRule({Action::resetRequest, posts, 30, 1});
          rig.proxy->addRule({Action::resetResponse, posts, 20, 1});
        }
        break;
      case 1:
        ++tried["stall"];
        rig.proxy->addRule({Action::stallResponse, posts, 0, 1});
        rig.proxy->addRule({Action::stallRequest, posts, 40, 1});
        break;
      case 2:
        ++tried["storm"];
        REQUIRE(rig.sim->admin("PUT", "/faults", json{{"error503Share", 0.25}, {"error500Share", 0.15},
                                                      {"throttle429Share", 0.2}, {"dropShare", 0.15},
                                                      {"retryAfterSeconds", 3}})
                    .status == 200);
        break;
      case 3:
        ++tried["partition"];
        rig.proxy->partition();
        break;
      case 4:
        ++tried["offline"];
        rig.net.set({false, false, ""});
        break;
      case 5:
        ++tried["revocation"];
        REQUIRE(rig.sim->admin("POST", "/sessions/revoke", json::object()).status == 200);
        break;
      default:
        ++tried["restart"];
        rig.proxy->addRule({Action::stallResponse, "/consumptions", 0, 1});
        break;
    }
    for (const auto& wo : work) rig.captureDay(wo);
    rig.clock.run(3min);
    if (kind == 6) rig.killAndRestartSim();
    if (kind == 4) rig.net.set({true, false, "eth0"});
    rig.drainAfterFaults();
  }
  rig.checkExactlyOnce();
  json figures = json::object();
  for (const auto& [k, n] : tried) figures[k] = n;
  rig.report({{"days", days}, {"seed", seed}, {"faultDays", figures}});
}
