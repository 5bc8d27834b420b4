#pragma once
// Sits between the upstream client and the real exchange and turns the calls of a pull or push
// into "sync" events with phase "progress" (work-order pages read of those the first page
// announced, work orders and reference documents read, operations sent, upload bytes), so a
// terminal can draw a progress bar without the sync layer knowing about it. At most one event
// per tuning::kProgressEvery, plus one for every work-order page, operation and upload chunk.
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/agent/events.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/http_exchange.hpp"

namespace fieldagent::agent {

class ProgressMeter final : public platform::HttpExchange {
 public:
  ProgressMeter(std::unique_ptr<platform::HttpExchange> inner, EventBus& events, platform::Clock& clock);

  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override;

  // A pull or push starts ("pull", "push"): counts from zero. An empty phase stops the events.
  void begin(const std::string& phase);

 private:
  void note(const platform::HttpRequest& request, const platform::HttpResponse& response);

  std::unique_ptr<platform::HttpExchange> inner_;
  EventBus& events_;
  platform::Clock& clock_;
  std::mutex mutex_;
  std::string phase_;
  nlohmann::json counts_ = nlohmann::json::object();
  platform::MonoTime lastEvent_{};
};

}  // namespace fieldagent::agent
