#include "server_clock.hpp"

namespace fieldagent::sim {

platform::WallTime ServerClock::now() const {
  std::lock_guard lock(mutex_);
  if (frozenAt_) return *frozenAt_;
  return real_.now() + offset_;
}

std::int64_t ServerClock::nowUnix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
}

void ServerClock::freeze(std::optional<platform::WallTime> at) {
  const platform::WallTime when = at ? *at : now();
  std::lock_guard lock(mutex_);
  frozenAt_ = when;
}

void ServerClock::unfreeze() {
  std::lock_guard lock(mutex_);
  // Time resumes from where it stood, so a frozen stretch does not jump forward at release.
  if (frozenAt_) offset_ = std::chrono::duration_cast<std::chrono::seconds>(*frozenAt_ - real_.now());
  frozenAt_.reset();
}

void ServerClock::shift(std::chrono::seconds by) {
  std::lock_guard lock(mutex_);
  if (frozenAt_) {
    *frozenAt_ += by;
  } else {
    offset_ += by;
  }
}

void ServerClock::reset() {
  std::lock_guard lock(mutex_);
  offset_ = std::chrono::seconds{0};
  frozenAt_.reset();
}

nlohmann::json ServerClock::describe() const {
  const platform::WallTime t = now();
  std::lock_guard lock(mutex_);
  return {
      {"now", platform::formatIso8601(t)},
      {"frozen", frozenAt_.has_value()},
      {"offsetSeconds", frozenAt_ ? std::chrono::duration_cast<std::chrono::seconds>(*frozenAt_ - real_.now()).count()
                                  : offset_.count()}};
}

}  // namespace fieldagent::sim
