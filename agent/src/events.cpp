#include "fieldagent/agent/events.hpp"

#include <algorithm>

#include "fieldagent/agent/tuning.hpp"

namespace fieldagent::agent {

std::optional<Event> EventBus::Subscription::next() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  Event e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

std::uint64_t EventBus::Subscription::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void EventBus::publish(const std::string& type, nlohmann::json data) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  Event e{nextId_++, type, std::move(data)};
  for (auto& s : subscribers_) {
    {
      std::lock_guard sl(s->mutex_);
      if (s->queue_.size() >= tuning::kSubscriberQueue) {
        s->queue_.pop_front();
        ++s->dropped_;
      }
      s->queue_.push_back(e);
    }
    s->cv_.notify_all();
  }
}

std::shared_ptr<EventBus::Subscription> EventBus::subscribe() {
  auto s = std::make_shared<Subscription>();
  std::lock_guard lock(mutex_);
  if (closed_) {
    s->closed_ = true;
  } else {
    subscribers_.push_back(s);
  }
  return s;
}

void EventBus::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), subscription), subscribers_.end());
}

void EventBus::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& s : subscribers_) {
    {
      std::lock_guard sl(s->mutex_);
      s->closed_ = true;
    }
    s->cv_.notify_all();
  }
  subscribers_.clear();
}

std::uint64_t EventBus::published() const {
  std::lock_guard lock(mutex_);
  return nextId_ - 1;
}

std::size_t EventBus::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

}  // namespace fieldagent::agent
