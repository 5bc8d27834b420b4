#pragma once
// alliance-sim's command line.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "faults.hpp"
#include "fieldagent/platform/result.hpp"

namespace fieldagent::sim {

struct SimOptions {
  std::string bind = "127.0.0.1";
  int port = 0;
  std::string dataDir;  // empty: a fresh temp folder, removed at exit
  std::string pathPrefix = "/integrations/int_local";
  std::int64_t workOrders = 50;  // --seed N: N work orders, generated from seed value N
  int technicians = 5;
  int tokenTtlSeconds = 3600;
  int uploadUrlTtlSeconds = 900;
  int maxChunkBytes = 4 << 20;
  FaultPlan faults;
  std::uint64_t faultSeed = 1;
  std::optional<std::string> freezeClockAt;  // ISO 8601 or "now"
  int clockShiftSeconds = 0;
  bool verbose = false;
  bool help = false;
};

Result<SimOptions> parseOptions(const std::vector<std::string>& args);
std::string usageText();

}  // namespace fieldagent::sim
