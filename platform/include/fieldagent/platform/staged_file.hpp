#pragma once
// Files written front to back and read at any offset, for data too large to hold in memory
// (attachments): a StagedFile is written beside its final name and appears there whole only
// when committed (fsync, rename, fsync of the folder), so a crash never leaves half a file
// under the final name.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::platform::fs {

class StagedFile {
 public:
  // Creates `<finalPath>.part` exclusively with `mode`. Errors: "io", "no_space", "not_found"
  // (missing folder), "exists" (a staged file of that name is already being written).
  static Result<StagedFile> create(const std::filesystem::path& finalPath, unsigned mode = 0600);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  // An uncommitted file is removed: a half-written file must never be mistaken for a whole one.
  ~StagedFile();

  // Errors: "io", "no_space" (the file keeps what was appended before; the caller may abandon).
  Result<void> append(std::string_view bytes);
  std::uint64_t size() const { return size_; }
  // fsync, rename onto the final name, fsync of the folder. The file is then closed.
  Result<void> commit();
  void abandon();

 private:
  StagedFile(int fd, std::filesystem::path staged, std::filesystem::path final);
  int fd_ = -1;
  std::filesystem::path staged_;
  std::filesystem::path final_;
  std::uint64_t size_ = 0;
};

// A read-only file read at any offset (pread), e.g. to resume an upload in the middle.
class RandomAccessFile {
 public:
  // Errors: "not_found", "io".
  static Result<RandomAccessFile> open(const std::filesystem::path& path);

  RandomAccessFile(RandomAccessFile&& other) noexcept;
  RandomAccessFile& operator=(RandomAccessFile&& other) noexcept;
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;
  ~RandomAccessFile();

  std::uint64_t size() const { return size_; }
  // Up to `length` bytes from `offset`; fewer only at the end of the file.
  Result<std::string> readAt(std::uint64_t offset, std::size_t length) const;

 private:
  RandomAccessFile(int fd, std::filesystem::path path, std::uint64_t size);
  int fd_ = -1;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
};

// Removes a file; a missing file is not an error.
Result<void> removeFile(const std::filesystem::path& path);

// Names of the regular files in a folder (not recursive).
Result<std::vector<std::string>> listFiles(const std::filesystem::path& folder);

}  // namespace fieldagent::platform::fs
