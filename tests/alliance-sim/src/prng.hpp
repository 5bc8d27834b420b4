#pragma once
// splitmix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence on every platform,
// which is what makes `--seed N` reproducible (std:: distributions are not portable).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fieldagent::sim {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  static std::uint64_t nextFrom(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // In [0, 1) with 53 bits.
  static double unitFrom(std::uint64_t& state) {
    return static_cast<double>(nextFrom(state) >> 11) * (1.0 / 9007199254740992.0);
  }

  std::uint64_t next() { return nextFrom(state_); }
  double unit() { return unitFrom(state_); }
  // In [0, n); n > 0. The modulo bias is far below anything a test data set could show.
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  bool chance(double p) { return unit() < p; }
  template <class Container>
  const auto& pick(const Container& from) {
    return from[static_cast<std::size_t>(below(from.size()))];
  }
  std::string hex(int digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    std::uint64_t v = next();
    for (int i = 0; i < digits; ++i) {
      out.push_back(kDigits[v & 15]);
      v >>= 4;
    }
    return out;
  }

 private:
  std::uint64_t state_;
};

}  // namespace fieldagent::sim
