#pragma once
// Fault injection: what the sim does to a share of contract requests (not to /_admin).
// 5xx and 429 answer before the request has any effect; a dropped connection happens after
// the effect was committed (the response is cut off), which is what exactly-once must survive.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::sim {

enum class Fault { none, error503, error500, throttle429, drop };

struct FaultPlan {
  double error503Share = 0;
  double error500Share = 0;
  double throttle429Share = 0;
  double dropShare = 0;
  int retryAfterSeconds = 1;
  int latencyMs = 0;
  // Faults touch only requests whose path contains this (empty: all requests).
  std::string pathContains;
  // Faults for the next matching requests, in order, before the shares apply.
  std::deque<Fault> next;
};

nlohmann::json describeFaults(const FaultPlan& plan);
// Reads a plan from the admin API's JSON; fields left out keep their defaults.
Result<FaultPlan> parseFaults(const nlohmann::json& body);
Result<Fault> parseFaultName(const std::string& name);

class FaultInjector {
 public:
  explicit FaultInjector(std::uint64_t seed) : state_(seed) {}

  void set(FaultPlan plan);
  FaultPlan plan() const;
  // Decides the fault for one request on `path`; the latency to add comes with it.
  Fault pick(const std::string& path, int& latencyMs, int& retryAfterSeconds);

 private:
  double nextUnit();
  mutable std::mutex mutex_;
  FaultPlan plan_;
  std::uint64_t state_;
};

}  // namespace fieldagent::sim
