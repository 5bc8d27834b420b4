#pragma once
// An app's photo, signature or document coming into the device: the spec checked, the bytes
// streamed into the store (encrypted and hashed on the way, never whole in memory), and the
// finished file recorded with its attachment_upload operation through Capture. The one path
// the local API and every other caller use (docs/uploads.md).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::sync {

struct CaptureLimits {
  std::uint64_t maxBytes = tuning::kMaxAttachmentBytes;  // one photo, signature or document
  std::size_t readBytes = tuning::kCaptureReadBytes;     // what is asked of readMore at a time
};

// Puts the next bytes of the attachment in the buffer and returns how many (0 at the end), or
// the reader's error.
using ReadMore = std::function<Result<std::size_t>(char*, std::size_t)>;

// Kind one of photo, signature, document; the file name plain: it travels upstream and into
// whatever saves the file later (no folder parts, no "." or "..", no control characters, at
// most 255 bytes). Errors: "invalid", naming the field.
Result<void> checkAttachmentSpec(const storage::AttachmentSpec& spec);

// An attachment whose bytes are in the store but not finished or recorded yet, and the hex
// SHA-256 of its spec and bytes: what an app's retried request is recognised by.
struct StreamedAttachment {
  storage::AttachmentWriter writer;
  std::string requestHash;
};

// Checks the spec and streams `readMore` into the store. Errors: "invalid" (the spec, an empty
// body), "payload_too_large" (names the limit), the reader's own, and the store's
// ("quota_exceeded", "no_space", "io"); on any of them the partial file is gone.
Result<StreamedAttachment> streamAttachment(storage::Store& store, const storage::AttachmentSpec& spec,
                                            const ReadMore& readMore, const CaptureLimits& limits = {});

// Finishes a streamed attachment and records it with its upload operation. The detail of the
// answer carries "attachmentId": the handle an app uses as signatureToken until the upload is
// done.
Result<Captured> recordStreamed(Capture& capture, StreamedAttachment& streamed);

// streamAttachment, then recordStreamed.
Result<Captured> captureAttachment(storage::Store& store, Capture& capture, const storage::AttachmentSpec& spec,
                                   const ReadMore& readMore, const CaptureLimits& limits = {});

}  // namespace fieldagent::sync
