#include "fieldagent/platform/clock.hpp"

#include <cstdio>
#include <ctime>

namespace fieldagent::platform {

void Wakeup::notify() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  cv_.notify_all();
}

WallTime SystemClock::now() const { return std::chrono::system_clock::now(); }
MonoTime SystemClock::monotonic() const { return std::chrono::steady_clock::now(); }

bool SystemClock::waitUntil(MonoTime deadline, Wakeup& wakeup) {
  std::unique_lock lock(wakeup.mutex_);
  const bool woken = wakeup.cv_.wait_until(lock, deadline, [&] { return wakeup.pending_; });
  wakeup.pending_ = false;
  return !woken;
}

FakeClock::FakeClock(WallTime start) : wall_(start) {}

WallTime FakeClock::now() const {
  std::lock_guard lock(mutex_);
  return wall_;
}

MonoTime FakeClock::monotonic() const {
  std::lock_guard lock(mutex_);
  return mono_;
}

bool FakeClock::waitUntil(MonoTime deadline, Wakeup& wakeup) {
  {
    std::lock_guard lock(mutex_);
    waiting_.insert(&wakeup);
    deadlines_.insert(deadline);
    ++waiterCount_;
    ++waitsStarted_;
  }
  changed_.notify_all();
  bool reached = false;
  {
    std::unique_lock lock(wakeup.mutex_);
    wakeup.cv_.wait(lock, [&] {
      if (wakeup.pending_) return true;
      reached = monotonic() >= deadline;
      return reached;
    });
    wakeup.pending_ = false;
  }
  {
    std::lock_guard lock(mutex_);
    waiting_.erase(&wakeup);
    deadlines_.erase(deadlines_.find(deadline));
    --waiterCount_;
  }
  changed_.notify_all();
  return reached;
}

void FakeClock::advance(std::chrono::nanoseconds by) {
  std::set<Wakeup*> toWake;
  {
    std::lock_guard lock(mutex_);
    wall_ += std::chrono::duration_cast<WallTime::duration>(by);
    mono_ += by;
    toWake = waiting_;
  }
  // Take each waiter's lock so that a waiter between its predicate check and its sleep
  // cannot miss this advance.
  for (Wakeup* w : toWake) {
    { std::lock_guard lock(w->mutex_); }
    w->cv_.notify_all();
  }
  changed_.notify_all();
}

void FakeClock::setWall(WallTime to) {
  std::lock_guard lock(mutex_);
  wall_ = to;
}

int FakeClock::waiters() const {
  std::lock_guard lock(mutex_);
  return waiterCount_;
}

void FakeClock::awaitWaiters(int n) const {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return waiterCount_ >= n; });
}

std::optional<std::chrono::nanoseconds> FakeClock::untilNextDeadline() const {
  std::lock_guard lock(mutex_);
  if (deadlines_.empty()) return std::nullopt;
  return std::max(std::chrono::nanoseconds{0}, *deadlines_.begin() - mono_);
}

std::uint64_t FakeClock::waitsStarted() const {
  std::lock_guard lock(mutex_);
  return waitsStarted_;
}

void FakeClock::awaitWaitsStarted(std::uint64_t n) const {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return waitsStarted_ >= n; });
}

std::string formatIso8601(WallTime t) {
  // Calendar arithmetic in <chrono>, not time_t and gmtime_r: time_t is 32 bits on armhf (Debian
  // 12), so any time outside 1901-2038 was written as a different date there. floor, not
  // time_point_cast: the cast rounds towards 1970, so a time before it with a fraction of a
  // second was written as the next second.
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto days = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{secs - days};
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                              static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                              static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                              static_cast<int>(hms.seconds().count()));
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

namespace {
bool digits(const std::string& s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

bool parseIso8601(const std::string& s, WallTime& out) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  // A WallTime counts nanoseconds in 64 bits: years 1678 to 2261 only. Outside a margin of
  // those the sum below overflowed (found by fuzzing); no upstream time is that far off.
  if (y < 1700 || y > 2200) return false;
  std::size_t pos = 19;
  std::chrono::nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    long long scale = 100'000'000;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::nanoseconds{(s[pos] - '0') * scale};
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int offsetMinutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om)) {
      return false;
    }
    offsetMinutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return false;
  const auto days = std::chrono::sys_days{ymd};
  out = std::chrono::time_point_cast<WallTime::duration>(
      days + std::chrono::hours{h} + std::chrono::minutes{mi - offsetMinutes} + std::chrono::seconds{sec} +
      std::chrono::duration_cast<std::chrono::nanoseconds>(frac));
  return true;
}

}  // namespace fieldagent::platform
