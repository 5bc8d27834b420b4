#pragma once
// Every tuning constant of the agent (local API, sync loop, progress events), in one place, each
// with the reason for its value. The sync engine's own are in fieldagent/sync/tuning.hpp.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fieldagent::agent::tuning {

using namespace std::chrono_literals;

// --- local API ---

// Request bodies other than attachments are small JSON documents; a bigger one is a mistake or
// an attack, refused before it is read.
inline constexpr std::size_t kMaxJsonBody = 1 << 20;
// Attachment bytes are read and encrypted in pieces of this size: never a whole photo in memory.
inline constexpr std::size_t kAttachmentPiece = 64 * 1024;
// A refused attachment's remaining body is read (and dropped) up to this much, so the app sees
// the answer; past it the connection is closed.
inline constexpr std::uint64_t kMaxDrainBytes = 64ull << 20;
// App idempotency keys remembered (oldest forgotten first), as upstream keeps them for 24 h.
inline constexpr std::size_t kIdempotencyEntries = 2000;
// The longest Idempotency-Key accepted: upstream's own limit, so a key the agent stores can
// always be the one it would send.
inline constexpr std::size_t kMaxIdempotencyKey = 255;
// Connections waiting to be accepted, and accepted connections waiting for a worker thread: a
// device has a handful of apps, so 64 only fills when something loops; beyond it, refusing is
// the better answer than unbounded memory.
inline constexpr int kListenBacklog = 64;
inline constexpr int kMaxQueuedConnections = 64;
// The API token file holds one line; anything larger is not a token file.
inline constexpr std::size_t kTokenFileMaxBytes = 4096;
// A token shorter than this is guessable by a neighbour app in reasonable time.
inline constexpr std::size_t kTokenMinLength = 16;
// Random bytes in a token made at first start: 256 bits, as the data key.
inline constexpr std::size_t kTokenRandomBytes = 32;

// --- event stream ---

// Events queued per subscriber: a phone app that is backgrounded stops reading; this many
// events cover a full sync of a day's work while it is away (older ones are dropped, counted).
inline constexpr std::size_t kSubscriberQueue = 1024;

// --- command line ---

// How long `fieldagent sync` waits for its round by default: a prime of 10,000 work orders on a
// slow link takes minutes.
inline constexpr long kSyncCommandTimeoutSeconds = 900;
// How long `fieldagent login` waits for the sign-in by default: one round trip upstream, or an
// MFA code to arrive, takes seconds; a minute says something is wrong.
inline constexpr long kLoginCommandTimeoutSeconds = 60;

// --- sync loop ---

// How often the SLA clock is looked at when nothing else wakes the loop: a minute is well inside
// any margin a dispatcher sets and costs one indexed query.
inline constexpr auto kSlaCheckEvery = 60s;
// Work orders read per query when the SLA clock is looked at: one page of the store's largest.
inline constexpr int kSlaPageSize = 200;
// After a failed pull, try again this soon rather than after the full interval; each further
// failure in a row doubles it, up to the pull interval.
inline constexpr auto kPullRetry = 30s;
// Pending operations looked at to find the next attempt's deadline: the earliest ones of a
// large backlog are enough, as the loop wakes again after each.
inline constexpr int kDeadlineScan = 200;
// Operations made due at once by one "send again now" sweep (connectivity back, sync now);
// more wait for the next sweep rather than hold the loop in one long listing.
inline constexpr int kDueNowSweep = 1000;
// Rejected operations looked at per round for "rejected" events: a day's work with room.
inline constexpr int kRejectedScan = 500;

// --- progress events ---

// At most one "progress" event per this interval for the counts that move fast (work orders
// and reference documents read); a terminal redraws no faster than that anyway.
inline constexpr auto kProgressEvery = std::chrono::milliseconds(250);

// --- fieldagent login ---

// MFA codes asked for on a terminal before giving up: a mistyped code can be typed again, and
// upstream's own limit on attempts stays far off.
inline constexpr int kCodeAttempts = 3;

}  // namespace fieldagent::agent::tuning
