#pragma once
// Files on the device's flash: whole-file reads, atomic replacement that survives a power cut
// at any point (temp file, fsync, rename, fsync of the folder), folders with explicit modes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::platform::fs {

// Reads the whole file. Errors: "not_found", "io" (with the OS's reason), "payload_too_large" when
// the file exceeds `maxBytes`.
Result<std::string> readFile(const std::filesystem::path& path, std::uint64_t maxBytes = 64u << 20);

// Replaces `path` with `bytes` so that a reader (or a reboot) sees either the old or the new
// content, never a mix. The file gets `mode` (e.g. 0600 for secrets). Errors: "io", "no_space".
Result<void> atomicWrite(const std::filesystem::path& path, std::string_view bytes, unsigned mode = 0644);

// Creates the folder and any missing parents; the last component gets `mode`. An existing
// folder keeps its contents; its mode is set to `mode`.
Result<void> ensureDir(const std::filesystem::path& path, unsigned mode = 0755);

// fsyncs a folder so that a rename or create inside it is durable.
Result<void> syncDir(const std::filesystem::path& path);

// Free bytes for an unprivileged writer on the file system holding `path`.
Result<std::uint64_t> freeBytes(const std::filesystem::path& path);

}  // namespace fieldagent::platform::fs
