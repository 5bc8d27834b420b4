#pragma once
// The counters GET /metrics reports, counted by the sync loop and the local API.
#include <atomic>
#include <cstdint>

namespace fieldagent::agent {

struct Metrics {
  std::atomic<std::uint64_t> pulls{0}, pullFailures{0}, drains{0}, opsDone{0}, opsRetried{0}, opsRejected{0},
      opsConflicts{0}, apiRequests{0}, apiErrors{0}, slaAtRisk{0};
};

}  // namespace fieldagent::agent
