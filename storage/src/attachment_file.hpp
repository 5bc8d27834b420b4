#pragma once
// The attachment file format (see attachment_file.cpp) and the state behind a writer and a
// reader, shared by the file code and the Attachments part that opens them.
#include <cstdint>
#include <memory>
#include <string>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/staged_file.hpp"
#include "fieldagent/storage/attachments.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage::detail {

inline constexpr std::size_t kHeaderBytes = 40;
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kPrefixBytes = 8;

struct Header {
  std::string raw;
  std::uint32_t chunkBytes = 0;
  std::string salt;
  std::string prefix;
};

Header makeHeader(std::uint32_t chunkBytes, std::string salt, std::string prefix);
Result<Header> parseHeader(std::string raw, const std::string& id);
// The file's own key, derived from the data key and the file's salt.
std::string fileKey(const std::string& dataKey, const Header& h);
// Whether `id` is one this store makes ("la_" + 32 lower-case hex): only those name files.
bool isLocalId(const std::string& id);
std::string quotaMessage(std::uint64_t inUse, std::uint64_t adding, std::uint64_t limit);

}  // namespace fieldagent::storage::detail

namespace fieldagent::storage {

struct AttachmentWriter::State {
  std::shared_ptr<QuotaLedger> quota;
  std::string id;
  AttachmentSpec spec;
  platform::fs::StagedFile file;
  platform::Sha256 sha;
  detail::Header header;
  std::string key;
  std::string buffer;
  std::uint64_t chunkIndex = 0;
  std::uint64_t plainBytes = 0;
  bool spent = false;
  bool finished = false;

  State(platform::fs::StagedFile f) : file(std::move(f)) {}

  // A failed writer leaves nothing: no partial file, no bytes counted.
  Error fail(Error error);
  Result<void> sealChunk(bool last);
};

struct AttachmentReader::State {
  platform::fs::RandomAccessFile file;
  std::string id;
  detail::Header header;
  std::string key;
  std::uint64_t plainBytes = 0;
  std::uint64_t chunks = 0;
  std::uint64_t lastRecordBytes = 0;

  State(platform::fs::RandomAccessFile f) : file(std::move(f)) {}
};

}  // namespace fieldagent::storage
