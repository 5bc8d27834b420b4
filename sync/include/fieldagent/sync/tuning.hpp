#pragma once
// Every tuning constant of the sync engine, in one place, each with the reason for its value.
#include <chrono>
#include <cstddef>
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
// A pull window whose total moved while it was paged is read again this often before the round
// gives up (the next round starts from the same watermark): on a busy upstream one reread is
// usually enough, and three bound the cost of one round.
inline constexpr int kMaxWindowRereads = 3;

// After a permanent transport failure (Outcome::blocked: the certificate is not trusted, expired
// or names another host, the pin does not match, no common TLS version) nothing changes by
// itself within seconds: a person fixes the configuration or the upstream's certificate, the
// device clock is corrected, or the device leaves the network that intercepts TLS (a captive
// portal, which is the usual cause of "untrusted" in the field). Every 15 minutes is often
// enough to notice a fix made upstream within a coffee break, and rare enough that a fleet with
// a broken upstream certificate costs upstream 4 handshakes a device an hour. Connectivity
// changes and sync requests try at once anyway.
inline constexpr std::chrono::seconds kBlockedRetry = 15min;
// A server Date further from the device clock than this is no clock at all (a device clock off
// by a century at most); such an offset is not used for TOTP codes or pull windows.
inline constexpr std::chrono::seconds kMaxPlausibleClockOffset = std::chrono::hours{24 * 366 * 100};

// Outbox drain (Pusher, PushOptions' defaults).
// Work orders pushed at the same time: enough to hide a cellular round trip behind others,
// few enough for a small upstream and for the idle connections platform keeps per origin (4).
inline constexpr int kPushLanes = 4;
// Operations asked of the store per look: one query fills all lanes several times over.
inline constexpr int kPushReadyBatch = 64;
// Status moves re-applied on a newer server version within one attempt: a work order that
// changes upstream faster than that is left to the back-off instead of a tight loop.
inline constexpr int kMaxReapplies = 2;
// An operation of a kind this build has no sender for waits this long between looks: it is kept
// (never lost) for a build that can send it, and must not spin the drain.
inline constexpr std::chrono::seconds kNoSenderRetry = 1h;

// Attachments (Uploader, UploadSettings' and CaptureLimits' defaults; the settings that a
// deployment chooses are in the agent's config: uploads.*).
// One photo, signature or document captured through sync::captureAttachment.
inline constexpr std::uint64_t kMaxAttachmentBytes = std::uint64_t{64} << 20;
// What is asked of an app's stream at a time while capturing: a bounded buffer per upload
// request on a device with little memory, large enough that a photo takes few store writes.
inline constexpr std::size_t kCaptureReadBytes = std::size_t{64} << 10;
// Largest tus PATCH body; the slot's maxChunkBytes lowers it further. A cut costs at most one
// chunk (a checksummed chunk cut short is dropped whole by the server), so this bounds the bytes
// a flaky link wastes, while keeping the per-chunk round trip small against the transfer.
inline constexpr std::size_t kUploadChunkBytes = std::size_t{1} << 20;
// Uploads larger than this wait while the link is metered, when that policy is on: a signature
// or a small photo still goes, a video does not.
inline constexpr std::uint64_t kLargeUploadBytes = std::uint64_t{2} << 20;
// A signed upload URL this close to its expiry is renewed before use: a chunk sent on it must
// arrive before it expires, on a slow link too.
inline constexpr std::chrono::seconds kUploadUrlRenewMargin = 30s;
// How long the local copy of a confirmed upload stays on the device: a week covers the office's
// questions about a job, and the store's attachment quota bounds it anyway.
inline constexpr std::chrono::seconds kUploadRetention = std::chrono::hours{24 * 7};
// Chunks in a row answered 460 (damaged in transit) before the send is given back to the
// pusher's back-off: a link that damages every chunk needs a pause, not a tight loop.
inline constexpr int kChunkChecksumRetries = 2;
// Rounds of (tus pass, complete) in one send: a renewed URL, a resume after upload_incomplete
// and one restart after checksum_mismatch each take one; more means something is wrong
// upstream, and the pusher's back-off is the better place to wait.
inline constexpr int kUploadRoundsPerSend = 8;
// 409 on a PATCH means our offset was stale; asking HEAD again fixes it unless the server keeps
// changing its mind.
inline constexpr int kUploadOffsetRetries = 3;

}  // namespace fieldagent::sync::tuning
