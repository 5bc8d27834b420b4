#pragma once
// GET /metrics: the agent's counters and gauges in the Prometheus text format.
#include <string>

#include "fieldagent/agent/local_api_context.hpp"

namespace fieldagent::agent::api {

std::string metricsText(LocalApiContext& context);

}  // namespace fieldagent::agent::api
