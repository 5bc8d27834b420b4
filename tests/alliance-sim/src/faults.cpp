#include "faults.hpp"

#include "prng.hpp"

namespace fieldagent::sim {

namespace {
const char* faultName(Fault f) {
  switch (f) {
    case Fault::error503:
      return "503";
    case Fault::error500:
      return "500";
    case Fault::throttle429:
      return "429";
    case Fault::drop:
      return "drop";
    case Fault::none:
      break;
  }
  return "none";
}

Result<double> share(const nlohmann::json& body, const char* key, double fallback) {
  if (!body.contains(key)) return fallback;
  const auto& v = body[key];
  if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) {
    return makeError("invalid_request", std::string(key) + " must be a number from 0 to 1");
  }
  return v.get<double>();
}
}  // namespace

Result<Fault> parseFaultName(const std::string& name) {
  if (name == "503") return Fault::error503;
  if (name == "500") return Fault::error500;
  if (name == "429") return Fault::throttle429;
  if (name == "drop") return Fault::drop;
  return makeError("invalid_request", "unknown fault '" + name + "' (503, 500, 429 or drop)");
}

nlohmann::json describeFaults(const FaultPlan& plan) {
  nlohmann::json next = nlohmann::json::array();
  for (Fault f : plan.next) next.push_back(faultName(f));
  return {{"error503Share", plan.error503Share},         {"error500Share", plan.error500Share},
          {"throttle429Share", plan.throttle429Share},   {"dropShare", plan.dropShare},
          {"retryAfterSeconds", plan.retryAfterSeconds}, {"latencyMs", plan.latencyMs},
          {"pathContains", plan.pathContains},           {"next", next}};
}

Result<FaultPlan> parseFaults(const nlohmann::json& body) {
  if (!body.is_object()) return makeError("invalid_request", "the fault plan must be a JSON object");
  FaultPlan plan;
  auto s503 = share(body, "error503Share", 0);
  auto s500 = share(body, "error500Share", 0);
  auto s429 = share(body, "throttle429Share", 0);
  auto sDrop = share(body, "dropShare", 0);
  for (const auto* r : {&s503, &s500, &s429, &sDrop}) {
    if (!r->ok()) return r->error();
  }
  plan.error503Share = *s503;
  plan.error500Share = *s500;
  plan.throttle429Share = *s429;
  plan.dropShare = *sDrop;
  if (plan.error503Share + plan.error500Share + plan.throttle429Share + plan.dropShare > 1.0 + 1e-9) {
    return makeError("invalid_request", "the shares add up to more than 1");
  }
  for (const auto& [key, target, max] : {std::tuple{"retryAfterSeconds", &plan.retryAfterSeconds, 86400},
                                         std::tuple{"latencyMs", &plan.latencyMs, 600000}}) {
    if (!body.contains(key)) continue;
    const auto& v = body[key];
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max) {
      return makeError("invalid_request", std::string(key) + " must be an integer from 0 to " + std::to_string(max));
    }
    *target = v.get<int>();
  }
  if (body.contains("pathContains")) {
    if (!body["pathContains"].is_string()) return makeError("invalid_request", "pathContains must be a string");
    plan.pathContains = body["pathContains"].get<std::string>();
  }
  if (body.contains("next")) {
    if (!body["next"].is_array()) return makeError("invalid_request", "next must be an array of fault names");
    for (const auto& item : body["next"]) {
      if (!item.is_string()) return makeError("invalid_request", "next must be an array of fault names");
      auto f = parseFaultName(item.get<std::string>());
      if (!f) return f.error();
      plan.next.push_back(*f);
    }
  }
  return plan;
}

void FaultInjector::set(FaultPlan plan) {
  std::lock_guard lock(mutex_);
  plan_ = std::move(plan);
}

FaultPlan FaultInjector::plan() const {
  std::lock_guard lock(mutex_);
  return plan_;
}

double FaultInjector::nextUnit() { return SplitMix64::unitFrom(state_); }

Fault FaultInjector::pick(const std::string& path, int& latencyMs, int& retryAfterSeconds) {
  std::lock_guard lock(mutex_);
  latencyMs = 0;
  retryAfterSeconds = plan_.retryAfterSeconds;
  if (!plan_.pathContains.empty() && path.find(plan_.pathContains) == std::string::npos) return Fault::none;
  latencyMs = plan_.latencyMs;
  if (!plan_.next.empty()) {
    const Fault f = plan_.next.front();
    plan_.next.pop_front();
    return f;
  }
  const double r = nextUnit();
  double edge = plan_.error503Share;
  if (r < edge) return Fault::error503;
  edge += plan_.error500Share;
  if (r < edge) return Fault::error500;
  edge += plan_.throttle429Share;
  if (r < edge) return Fault::throttle429;
  edge += plan_.dropShare;
  if (r < edge) return Fault::drop;
  return Fault::none;
}

}  // namespace fieldagent::sim
