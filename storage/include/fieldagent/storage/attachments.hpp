#pragma once
// Attachments: the encrypted bytes on disk (written and read in chunks, never held whole), their
// rows, the upload state the uploader keeps, the purge after confirmation and the quota.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/part.hpp"
#include "fieldagent/storage/records.hpp"

namespace fieldagent::storage {

class Attachments;

// An attachment whose encrypted bytes are in place on disk, waiting to be recorded by a local
// write (together with its upload operation). Not recorded, it is swept at the next open.
struct FinishedAttachment {
  std::string id;
  AttachmentSpec spec;
  std::uint64_t sizeBytes = 0;
  std::string sha256;  // hex
};

// Streams one attachment to disk: encrypted in chunks, SHA-256 of the plaintext computed on
// the way, never held whole in memory. Dropped without finish(), nothing is left behind.
class AttachmentWriter {
 public:
  AttachmentWriter(AttachmentWriter&&) noexcept;
  AttachmentWriter& operator=(AttachmentWriter&&) noexcept;
  ~AttachmentWriter();

  const std::string& id() const;
  std::uint64_t bytesWritten() const;
  // Errors: "quota_exceeded" (names the sizes), "no_space", "io". After an error the writer is
  // spent: its partial file is removed.
  Result<void> append(std::string_view bytes);
  // Seals the last chunk, fsyncs and renames the file into place.
  Result<FinishedAttachment> finish();

 private:
  friend class Attachments;
  struct State;
  explicit AttachmentWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Reads any byte range of a stored attachment, checking every chunk it touches.
class AttachmentReader {
 public:
  AttachmentReader(AttachmentReader&&) noexcept;
  AttachmentReader& operator=(AttachmentReader&&) noexcept;
  ~AttachmentReader();

  std::uint64_t size() const;
  // Up to `length` bytes from `offset`. Errors: "corrupt" (a chunk was altered, reordered or
  // cut off), "io".
  Result<std::string> read(std::uint64_t offset, std::size_t length) const;

 private:
  friend class Attachments;
  struct State;
  explicit AttachmentReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class Attachments {
 public:
  Attachments(const Attachments&) = delete;
  Attachments& operator=(const Attachments&) = delete;

  // Errors: "quota_exceeded" when expectedBytes does not fit, "invalid" (empty kind).
  Result<AttachmentWriter> beginAttachment(const AttachmentSpec& spec);
  Result<AttachmentRecord> attachment(const std::string& id);  // "not_found"
  Result<std::vector<AttachmentRecord>> listAttachments(const std::string& workOrderId);
  Result<AttachmentReader> openAttachment(const std::string& id);  // "not_found", "gone", "corrupt"
  Result<void> updateAttachmentUpload(const std::string& id, const AttachmentUploadUpdate& update);
  // Removes the local bytes of a confirmed attachment (retention over); "not_confirmed" otherwise.
  Result<void> purgeAttachmentBytes(const std::string& id);
  // Bytes counted against the quota: recorded attachments still on the device plus writers
  // in progress.
  std::uint64_t attachmentBytesInUse();

 private:
  friend class Store;
  explicit Attachments(detail::StoreCore& core) : core_(core) {}
  detail::StoreCore& core_;
};

}  // namespace fieldagent::storage
