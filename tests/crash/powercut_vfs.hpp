#pragma once
// A SQLite VFS for power-cut tests: it wraps the default unix VFS and, for every database,
// WAL and journal file, remembers the writes and truncations not yet followed by an xSync of
// that file (with the bytes they replaced). A snapshot writes, for each such file, what a disk
// could hold after the power went at that moment: the bytes as of the file's last sync, plus
// (optionally) a random subset of the unsynced writes, as a page cache flushing in any order
// would leave them. Directory entries are not modelled: a file exists or is gone as the
// process last left it (SQLite syncs the directory when it creates a journal; see
// docs/reliability.md).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

namespace fieldagent::testing::powercut {

// Registers the VFS ("powercut") as SQLite's default, once per process: every connection
// opened afterwards (the store's too) goes through it.
void install();

// Called before every tracked write, truncate and sync, with the running count of them
// (from 1) and whether the operation is a sync of a WAL file; may take snapshots. Not called
// while a snapshot is being taken. Empty: nothing is called.
void onOperation(std::function<void(std::uint64_t operation, bool walSync)> hook);

// The operations seen so far.
std::uint64_t operations();

// Writes the power-cut image of every tracked file under `from` into `to` (same file names).
// Each unsynced write survives with probability `keepShare` (0: every unsynced byte is lost).
void snapshot(const std::filesystem::path& from, const std::filesystem::path& to, double keepShare,
              std::mt19937& dice);

// Forgets every tracked file (between independent runs).
void reset();

}  // namespace fieldagent::testing::powercut
