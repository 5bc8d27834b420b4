#pragma once
// Every tuning constant of platform/'s HTTP client and TLS transport, in one place, each with the
// reason for its value. (The sync engine's are in fieldagent/sync/tuning.hpp.)
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fieldagent::platform::tuning {

using namespace std::chrono_literals;

// TCP connect. A cellular link that has not set up a connection in 10 s is not going to; the
// sync loop tries again on its own schedule.
inline constexpr std::chrono::milliseconds kConnectTimeout = 10s;
// From the TCP connection to the finished TLS handshake (two round trips plus the ECDHE work of a
// slow ARM core): 15 s covers a congested 2G link without letting a silent server hold a round.
inline constexpr std::chrono::milliseconds kHandshakeTimeout = 15s;
// The longest wait for the next bytes of an answer / for room to send the next bytes. Per read
// or write, not per request: a large page or upload on a slow link takes longer in total, but
// a link that moves nothing for 30 s is dead.
inline constexpr std::chrono::milliseconds kReadTimeout = 30s;
inline constexpr std::chrono::milliseconds kWriteTimeout = 30s;
// A kept-alive connection idle longer than this is not reused: servers and NATs commonly drop
// idle connections after 30-60 s, and a fresh handshake is cheaper than a request lost to one.
inline constexpr std::chrono::milliseconds kKeepAliveIdle = 20s;
// Idle keep-alive connections kept per origin. The sync engine talks to one upstream with a
// handful of lanes (sync::PushOptions::lanes is 4); each idle TLS connection holds ~37 KiB.
inline constexpr std::size_t kIdleConnectionsPerOrigin = 4;
// The one cap on an answer's body held in memory. A device with little memory must not be made
// to hold an arbitrary answer; the largest legitimate answers are pull pages (200 work orders
// with their history: a few MiB), so 32 MiB leaves ample room. Attachments go up in chunks and
// are never downloaded whole.
inline constexpr std::uint64_t kMaxResponseBytes = std::uint64_t{32} << 20;
// How much of an answer is read at a time: large enough that a multi-MiB page takes few reads,
// small enough to live on the stack of a sync lane.
inline constexpr std::size_t kReadChunkBytes = 16384;

}  // namespace fieldagent::platform::tuning
