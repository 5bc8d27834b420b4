#pragma once
// Driving a sync loop that waits on a FakeClock one reaction at a time, without sleeping.
#include "fieldagent/platform/clock.hpp"

namespace fieldagent::testing {

// Does `action` (which must wake the loop) while the loop is parked on `clock`, and returns once
// the loop has reacted and parked on the clock again.
template <class F>
void stepLoop(platform::FakeClock& clock, F action) {
  clock.awaitWaiters(1);
  const auto before = clock.waitsStarted();
  action();
  clock.awaitWaitsStarted(before + 1);
}

}  // namespace fieldagent::testing
