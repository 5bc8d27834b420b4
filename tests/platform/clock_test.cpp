#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include "fieldagent/platform/clock.hpp"

using namespace fieldagent::platform;
using namespace std::chrono_literals;

TEST_CASE("a fake clock releases a waiter only when time reaches its deadline", "[clock]") {
  FakeClock clock;
  Wakeup wakeup;
  const MonoTime deadline = clock.monotonic() + 30s;
  auto waiter = std::async(std::launch::async, [&] { return clock.waitUntil(deadline, wakeup); });

  clock.awaitWaiters(1);
  clock.advance(29s);
  // Still parked: the waiter count only drops when waitUntil returns.
  CHECK(waiter.wait_for(0s) == std::future_status::timeout);
  CHECK(clock.waiters() == 1);

  clock.advance(1s);
  CHECK(waiter.get() == true);
  CHECK(clock.waiters() == 0);
}

TEST_CASE("a wake-up ends a wait early and is reported as such", "[clock]") {
  FakeClock clock;
  Wakeup wakeup;
  auto waiter = std::async(std::launch::async, [&] { return clock.waitUntil(clock.monotonic() + 1h, wakeup); });
  clock.awaitWaiters(1);
  wakeup.notify();
  CHECK(waiter.get() == false);

  // A wake-up that comes before the wait is not lost.
  wakeup.notify();
  CHECK(clock.waitUntil(clock.monotonic() + 1h, wakeup) == false);
}

TEST_CASE("a deadline already past returns at once", "[clock]") {
  FakeClock clock;
  Wakeup wakeup;
  CHECK(clock.waitUntil(clock.monotonic(), wakeup) == true);
  SystemClock system;
  CHECK(system.waitUntil(system.monotonic() - 1s, wakeup) == true);
}

TEST_CASE("the fake clock moves wall and monotonic time together, and wall time alone on request", "[clock]") {
  FakeClock clock(WallTime{} + 1000s);
  const auto mono0 = clock.monotonic();
  clock.advance(90s);
  CHECK(clock.now() == WallTime{} + 1090s);
  CHECK(clock.monotonic() - mono0 == 90s);
  clock.setWall(WallTime{} + 5s);  // a device whose clock was set back
  CHECK(clock.now() == WallTime{} + 5s);
  CHECK(clock.monotonic() - mono0 == 90s);
}

TEST_CASE("system clock waits wake on notify", "[clock]") {
  SystemClock clock;
  Wakeup wakeup;
  std::promise<bool> result;
  std::thread t([&] { result.set_value(clock.waitUntil(clock.monotonic() + 1h, wakeup)); });
  wakeup.notify();
  CHECK(result.get_future().get() == false);
  t.join();
}

TEST_CASE("ISO 8601 timestamps as the contract writes them", "[clock]") {
  WallTime t{};
  REQUIRE(parseIso8601("2026-01-21T13:00:00Z", t));
  CHECK(formatIso8601(t) == "2026-01-21T13:00:00Z");
  WallTime withOffset{};
  REQUIRE(parseIso8601("2026-01-21T15:00:00+02:00", withOffset));
  CHECK(withOffset == t);
  WallTime fractional{};
  REQUIRE(parseIso8601("2026-01-21T13:00:00.250Z", fractional));
  CHECK(fractional - t == 250ms);
  // Before 1970 a fraction of a second is below the whole second, not above it: the written time
  // is the second it falls in (found by fuzzing: 13:00:00.123 was written as 13:00:01).
  WallTime early{};
  REQUIRE(parseIso8601("1728-01-21T13:00:00.123456789+05:30", early));
  CHECK(formatIso8601(early) == "1728-01-21T07:30:00Z");
  for (const char* bad : {"", "2026-01-21", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-21T13:00:00",
                          "2026-01-21T13:00:00Zjunk", "2026-01-21T25:00:00Z", "20x6-01-21T13:00:00Z",
                          // beyond a 64-bit nanosecond clock (found by fuzzing: signed overflow)
                          "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseIso8601(bad, t));
  }
}
