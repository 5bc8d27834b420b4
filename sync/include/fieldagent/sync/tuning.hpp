#pragma once
// Every tuning constant of the sync engine, in one place, each with the reason for its value.
#include <chrono>
#include <cstdint>

namespace fieldagent::sync::tuning {

using namespace std::chrono_literals;

// First retry delay ceiling. A second is long enough not to hammer a server that just failed,
// short enough that a blip in coverage costs the technician nothing.
inline constexpr std::chrono::milliseconds kBackoffBase = 1s;
// Retry delay ceiling. Five minutes bounds how stale the office's view gets while a server is
// down; connectivity changes retry at once anyway.
inline constexpr std::chrono::milliseconds kBackoffCap = 5min;
// A Retry-After larger than this is treated as this: a misconfigured server must not park
// a technician's work for a day.
inline constexpr std::chrono::seconds kMaxRetryAfter = 1h;
// Renew the session token when this much of its lifetime is left, so calls never race expiry.
inline constexpr double kRenewAtRemainingFraction = 0.2;
// ...but never earlier than this before expiry (short-lived tokens).
inline constexpr std::chrono::seconds kRenewMinimumLead = 30s;
// Page size for pulls: the contract's maximum, fewest round trips on a high-latency link.
inline constexpr int kPullPageSize = 200;
// Delta pulls re-read this much before the watermark: server clocks and commit order are not
// perfectly monotonic, and a change committed late with an earlier updatedAt must not be missed.
inline constexpr std::chrono::seconds kPullOverlap = 2min;

}  // namespace fieldagent::sync::tuning
