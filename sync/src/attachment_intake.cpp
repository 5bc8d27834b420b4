#include "fieldagent/sync/attachment_intake.hpp"

#include <algorithm>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::sync {

Result<void> checkAttachmentSpec(const storage::AttachmentSpec& spec) {
  if (spec.kind != "photo" && spec.kind != "signature" && spec.kind != "document")
    return makeError("invalid", "kind must be photo, signature or document");
  const std::string& name = spec.fileName;
  if (name.empty()) return makeError("invalid", "fileName is required");
  const bool control =
      std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  if (name.size() > 255 || name.find_first_of("/\\") != std::string::npos || control || name == "." || name == "..")
    return makeError("invalid",
                     "fileName must be a plain name of at most 255 characters (no folders, \".\" or \"..\", "
                     "no control characters)");
  return {};
}

Result<StreamedAttachment> streamAttachment(storage::Store& store, const storage::AttachmentSpec& spec,
                                            const ReadMore& readMore, const CaptureLimits& limits) {
  if (auto ok = checkAttachmentSpec(spec); !ok) return ok.error();
  if (limits.readBytes == 0) return makeError("invalid", "readBytes must be positive");
  const std::string limitText = "the limit of " + std::to_string(limits.maxBytes) + " bytes";
  if (spec.expectedBytes && *spec.expectedBytes > limits.maxBytes)
    return makeError("payload_too_large",
                     "the attachment is " + std::to_string(*spec.expectedBytes) + " bytes, larger than " + limitText);
  auto begun = store.attachments().beginAttachment(spec);
  if (!begun) return begun.error();
  storage::AttachmentWriter writer = std::move(begun).value();
  platform::Sha256 hash;
  hash.update(spec.workOrderId + "\n" + spec.kind + "\n" + spec.fileName + "\n" + spec.contentType + "\n");
  // One buffer reused for the whole stream: the attachment is never whole in memory.
  std::string buffer(limits.readBytes, '\0');
  for (;;) {
    auto got = readMore(buffer.data(), buffer.size());
    if (!got) return got.error();  // the writer's partial file goes with it
    if (*got == 0) break;
    if (*got > buffer.size()) return makeError("invalid", "the reader returned more bytes than it was given room for");
    if (writer.bytesWritten() + *got > limits.maxBytes)
      return makeError("payload_too_large", "the attachment is larger than " + limitText);
    const std::string_view piece(buffer.data(), *got);
    hash.update(piece);
    if (auto appended = writer.append(piece); !appended) return appended.error();
  }
  if (writer.bytesWritten() == 0) return makeError("invalid", "the attachment is empty");
  return StreamedAttachment{std::move(writer), platform::hexEncode(hash.finish())};
}

Result<Captured> recordStreamed(Capture& capture, StreamedAttachment& streamed) {
  auto finished = streamed.writer.finish();
  if (!finished) return finished.error();
  return capture.recordAttachment(*finished);
}

Result<Captured> captureAttachment(storage::Store& store, Capture& capture, const storage::AttachmentSpec& spec,
                                   const ReadMore& readMore, const CaptureLimits& limits) {
  auto streamed = streamAttachment(store, spec, readMore, limits);
  if (!streamed) return streamed.error();
  return recordStreamed(capture, *streamed);
}

}  // namespace fieldagent::sync
