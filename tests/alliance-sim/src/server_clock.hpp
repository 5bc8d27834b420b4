#pragma once
// The sim's own idea of "now": the real wall clock, optionally shifted or frozen through the
// admin API, so that tests can expire tokens and signed URLs without waiting.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"

namespace fieldagent::sim {

class ServerClock {
 public:
  explicit ServerClock(const platform::Clock& real) : real_(real) {}

  platform::WallTime now() const;
  std::int64_t nowUnix() const;
  // The unshifted wall clock (TOTP follows the authenticator's clock, not the sim's).
  platform::WallTime realNow() const { return real_.now(); }

  // Stops time at `at` (or at the current server time).
  void freeze(std::optional<platform::WallTime> at);
  void unfreeze();
  // Moves server time by `by` (cumulative; negative moves it back).
  void shift(std::chrono::seconds by);
  void reset();
  nlohmann::json describe() const;

 private:
  const platform::Clock& real_;
  mutable std::mutex mutex_;
  std::chrono::seconds offset_{0};
  std::optional<platform::WallTime> frozenAt_;
};

}  // namespace fieldagent::sim
