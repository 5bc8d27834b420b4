#pragma once
// What the agent tells the apps as it happens (sync progress, conflicts, rejections, SLA at
// risk), fanned out to every Server-Sent Events subscriber. Each subscriber has a bounded
// queue: a client that stops reading loses the oldest events (counted), never blocks the sync.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldagent::agent {

struct Event {
  std::uint64_t id = 0;
  std::string type;  // "sync", "conflict", "rejected", "sla_at_risk", "session", "connectivity"
  nlohmann::json data;
};

class EventBus {
 public:
  class Subscription {
   public:
    // Blocks until an event or close(); nullopt once closed.
    std::optional<Event> next();
    std::uint64_t dropped() const;

   private:
    friend class EventBus;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Event> queue_;
    bool closed_ = false;
    std::uint64_t dropped_ = 0;
  };

  void publish(const std::string& type, nlohmann::json data);
  std::shared_ptr<Subscription> subscribe();
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Ends every subscription (shutdown): their next() returns nullopt.
  void close();
  std::uint64_t published() const;
  std::size_t subscribers() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subscription>> subscribers_;
  std::uint64_t nextId_ = 1;
  bool closed_ = false;
};

}  // namespace fieldagent::agent
