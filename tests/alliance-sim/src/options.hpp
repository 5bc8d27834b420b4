#pragma once
// alliance-sim's command line.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

struct SimOptions {
  std::string bind = "127.0.0.1";
  int port = 0;
  bool temporaryData = true;                 // no --data: a fresh temp folder, removed at exit
  SimConfig sim;                             // --seed N: sim.workOrders = N, generated from seed value N
  std::optional<std::string> freezeClockAt;  // ISO 8601 or "now"
  int clockShiftSeconds = 0;
  bool verbose = false;
  bool dieWithParent = false;
  bool help = false;
};

Result<SimOptions> parseOptions(const std::vector<std::string>& args);
std::string usageText();

}  // namespace fieldagent::sim
