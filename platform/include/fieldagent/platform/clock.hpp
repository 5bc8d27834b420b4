#pragma once
// Time comes through Clock: wall time for timestamps, monotonic time for deadlines and
// back-off, and waits that a FakeClock releases when a test advances it.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace fieldagent::platform {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

// Something a waiting thread can be woken through before its deadline (new work, shutdown,
// connectivity back). Wakes are remembered until the next wait consumes them.
class Wakeup {
 public:
  void notify();

 private:
  friend class SystemClock;
  friend class FakeClock;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool pending_ = false;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime now() const = 0;
  virtual MonoTime monotonic() const = 0;
  // Blocks until monotonic() reaches `deadline` or `wakeup` is notified. Returns true when
  // the deadline was reached, false when woken early.
  virtual bool waitUntil(MonoTime deadline, Wakeup& wakeup) = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime now() const override;
  MonoTime monotonic() const override;
  bool waitUntil(MonoTime deadline, Wakeup& wakeup) override;
};

// A clock that only moves when told to. Threads blocked in waitUntil() wake when advance()
// carries time past their deadline.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime{std::chrono::seconds{1'800'000'000}});

  WallTime now() const override;
  MonoTime monotonic() const override;
  bool waitUntil(MonoTime deadline, Wakeup& wakeup) override;

  void advance(std::chrono::nanoseconds by);
  // Moves wall time only (a device clock set wrong); monotonic time is untouched.
  void setWall(WallTime to);
  // Number of threads currently blocked in waitUntil(); lets a test wait until the code
  // under test is parked before it advances time.
  int waiters() const;
  // Blocks until at least `n` threads are waiting.
  void awaitWaiters(int n) const;
  // How many times waitUntil() has been entered, ever. A test that advances time reads it,
  // advances, and awaits the next count: the code under test has then finished reacting to the
  // advance and parked again (and a count that grows faster than the advances shows a spin).
  std::uint64_t waitsStarted() const;
  void awaitWaitsStarted(std::uint64_t n) const;
  // How far ahead the earliest deadline a waiting thread gave lies (zero when it has passed);
  // nothing when no thread waits. A test advances by it to step to the code's next timer.
  std::optional<std::chrono::nanoseconds> untilNextDeadline() const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  WallTime wall_;
  MonoTime mono_{};
  std::set<Wakeup*> waiting_;
  std::multiset<MonoTime> deadlines_;
  int waiterCount_ = 0;
  std::uint64_t waitsStarted_ = 0;
};

// ISO 8601 UTC with seconds ("2026-01-21T13:00:00Z"), as the upstream contract writes them.
std::string formatIso8601(WallTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)"; false on anything else.
bool parseIso8601(const std::string& text, WallTime& out);

}  // namespace fieldagent::platform
