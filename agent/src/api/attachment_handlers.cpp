// Photos, signatures and documents of a work order: the list, and an app's upload (raw body or
// multipart form) streamed into the store and recorded with its upload operation.
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>

#include <algorithm>
#include <istream>

#include "api/handlers.hpp"
#include "api/presenters.hpp"
#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::agent::api {

namespace {

// A streamed attachment: the writer (not finished yet) and the hex SHA-256 of what it was given.
using Streamed = Result<std::pair<storage::AttachmentWriter, std::string>>;

Streamed streamAttachment(LocalApiContext& context, const storage::AttachmentSpec& spec, std::istream& in) {
  if (spec.kind != "photo" && spec.kind != "signature" && spec.kind != "document")
    return makeError("invalid", "kind must be photo, signature or document");
  if (spec.fileName.empty()) return makeError("invalid", "fileName is required");
  // The name travels upstream and into whatever saves the file later: no folder parts, no
  // "." or "..", no NUL or other control characters.
  const bool control = std::any_of(spec.fileName.begin(), spec.fileName.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  if (spec.fileName.size() > 255 || spec.fileName.find_first_of("/\\") != std::string::npos || control ||
      spec.fileName == "." || spec.fileName == "..")
    return makeError("invalid",
                     "fileName must be a plain name of at most 255 characters (no folders, \".\" or \"..\", "
                     "no control characters)");
  auto writer = context.store.attachments().beginAttachment(spec);
  if (!writer) return writer.error();
  platform::Sha256 hash;
  hash.update(spec.workOrderId + "\n" + spec.kind + "\n" + spec.fileName + "\n" + spec.contentType + "\n");
  std::string piece(tuning::kAttachmentPiece, '\0');
  const auto limit = context.settings.attachmentMaxBytes;
  while (in.read(piece.data(), static_cast<std::streamsize>(piece.size())) || in.gcount() > 0) {
    std::string_view got(piece.data(), static_cast<std::size_t>(in.gcount()));
    if (writer->bytesWritten() + got.size() > limit)
      return makeError("payload_too_large",
                       "attachment larger than attachments.maxBytes (" + std::to_string(limit) + " bytes)");
    hash.update(got);
    if (auto ok = writer->append(got); !ok) return ok.error();
  }
  if (writer->bytesWritten() == 0) return makeError("invalid", "attachment body is empty");
  return std::pair<storage::AttachmentWriter, std::string>{std::move(writer).value(),
                                                           platform::hexEncode(hash.finish())};
}

// Streams the file part; the form fields kind, fileName and contentType must come before it.
class AttachmentPart final : public Poco::Net::PartHandler {
 public:
  AttachmentPart(LocalApiContext& context, std::string workOrderId, Poco::Net::HTMLForm& form)
      : context_(context), workOrderId_(std::move(workOrderId)), form_(form) {}
  void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
    if (done_) return;
    done_ = true;
    std::string disposition;
    Poco::Net::NameValueCollection params;
    Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition", ""), disposition, params);
    storage::AttachmentSpec spec;
    spec.workOrderId = workOrderId_;
    spec.kind = form_.get("kind", "");
    spec.fileName = form_.get("fileName", params.get("filename", ""));
    spec.contentType = form_.get("contentType", header.get("Content-Type", "application/octet-stream"));
    result = streamAttachment(context_, spec, stream);
  }
  Streamed result{makeError("bad_request", "no file part")};

 private:
  LocalApiContext& context_;
  std::string workOrderId_;
  Poco::Net::HTMLForm& form_;
  bool done_ = false;
};

}  // namespace

Reply AttachmentHandlers::list(Request& r) {
  auto& store = r.context().store;
  const std::string& id = r.param("id");
  if (auto wo = store.workOrders().workOrder(id); !wo) return fromError(wo.error());
  auto list = store.attachments().listAttachments(id);
  if (!list) return fromError(list.error());
  json items = json::array();
  for (const auto& a : *list) items.push_back(attachmentJson(a));
  return {200, singlePage(std::move(items))};
}

Reply AttachmentHandlers::capture(Request& r) {
  auto& context = r.context();
  auto& request = r.http();
  const std::string& workOrderId = r.param("id");
  if (auto wo = context.store.workOrders().workOrder(workOrderId); !wo) return fromError(wo.error());
  Streamed streamed{makeError("bad_request", "no body")};
  const std::string type = request.getContentType();
  if (type.rfind("multipart/form-data", 0) == 0) {
    Poco::Net::HTMLForm form;
    AttachmentPart part(context, workOrderId, form);
    try {
      form.load(request, request.stream(), part);
    } catch (const Poco::Exception& e) {
      return error("bad_request", "malformed multipart body: " + e.displayText());
    }
    streamed = std::move(part.result);
  } else {
    storage::AttachmentSpec spec;
    spec.workOrderId = workOrderId;
    spec.kind = r.query("kind");
    spec.fileName = r.query("fileName");
    spec.contentType = r.has("contentType") ? r.query("contentType") : (type.empty() ? "application/octet-stream" : type);
    if (request.hasContentLength() && request.getContentLength64() > 0)
      spec.expectedBytes = static_cast<std::uint64_t>(request.getContentLength64());
    streamed = streamAttachment(context, spec, request.stream());
  }
  if (!streamed) {
    // Read what the app is still sending (up to a bound) so it gets this answer rather than a
    // connection reset in the middle of its upload.
    std::string sink(tuning::kAttachmentPiece, '\0');
    std::uint64_t drained = 0;
    auto& in = request.stream();
    while (drained < tuning::kMaxDrainBytes &&
           (in.read(sink.data(), static_cast<std::streamsize>(sink.size())) || in.gcount() > 0))
      drained += static_cast<std::uint64_t>(in.gcount());
    return fromError(streamed.error());
  }
  // Named references, not a structured binding: clang before 16 cannot capture one.
  storage::AttachmentWriter& writer = streamed->first;
  const std::string& hash = streamed->second;
  return r.idempotent(hash, [&]() -> Reply {
    auto finished = writer.finish();
    if (!finished) return fromError(finished.error());
    auto captured = context.capture.recordAttachment(*finished);
    Reply reply = accepted(captured);
    if (reply.status == 202) {
      reply.body["attachmentId"] = finished->id;
      reply.body["signatureToken"] = finished->id;
      reply.body["sizeBytes"] = finished->sizeBytes;
      reply.body["sha256"] = finished->sha256;
    }
    return reply;
  });
}

}  // namespace fieldagent::agent::api
