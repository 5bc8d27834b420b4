#pragma once
// Every tuning constant of the offline store, each with the reason for its value.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fieldagent::storage::tuning {

// How long a statement waits for a lock held by another connection (a support tool, or a
// second agent started by mistake) before it fails with "busy". The agent itself uses one
// connection, so inside the agent this only matters for outside readers.
constexpr std::chrono::milliseconds kBusyTimeout{5000};

// Plaintext bytes per encrypted attachment chunk. 64 KiB keeps the per-chunk overhead (16-byte
// tag) at 0.02 %, matches common tus chunk sizes, and bounds what a reader holds in memory.
constexpr std::size_t kAttachmentChunkBytes = 64 * 1024;

// Default cap on the attachment bytes kept on the device (photos, signatures, documents).
// 2 GiB is a month of photos for a busy technician and a fraction of the reference devices'
// 32 GB of flash.
constexpr std::uint64_t kDefaultAttachmentQuotaBytes = 2ull << 30;

// Upper bound of pageSize in list queries, as upstream allows.
constexpr int kMaxPageSize = 200;

// Let the WAL grow to about 4 MiB before SQLite folds it back into the database (1000 pages of
// 4 KiB, SQLite's default): fewer, larger checkpoints mean fewer rewrites of the same pages.
constexpr int kWalAutocheckpointPages = 1000;

// SQLite's own page cache per connection, in KiB (negative cache_size means KiB). 2 MiB holds
// the hot part of a month of work orders on a device with little memory.
constexpr int kPageCacheKiB = 2048;

// Sync runs kept in the log: a week of syncs every few minutes, enough to see a pattern of
// failures, small enough not to matter.
constexpr int kSyncRunsKept = 2000;

}  // namespace fieldagent::storage::tuning
