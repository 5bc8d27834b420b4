// Photos, signatures and documents of a work order: the list, and an app's upload (raw body or
// multipart form) streamed into the store and recorded with its upload operation.
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>

#include <istream>

#include "api/handlers.hpp"
#include "api/presenters.hpp"
#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/sync/attachment_intake.hpp"

namespace fieldagent::agent::api {

namespace {

using Streamed = Result<sync::StreamedAttachment>;

// The app's body through sync::streamAttachment, a piece at a time, within attachments.maxBytes.
Streamed streamAttachment(LocalApiContext& context, const storage::AttachmentSpec& spec, std::istream& in) {
  auto readMore = [&in](char* buffer, std::size_t room) -> Result<std::size_t> {
    in.read(buffer, static_cast<std::streamsize>(room));
    if (in.bad()) return makeError("bad_request", "the request body could not be read to its end");
    return static_cast<std::size_t>(in.gcount());
  };
  return sync::streamAttachment(context.store, spec, readMore,
                                {context.settings.attachmentMaxBytes, tuning::kAttachmentPiece});
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
  return r.idempotent(streamed->requestHash, [&]() -> Reply {
    auto captured = sync::recordStreamed(context.capture, *streamed);
    Reply reply = accepted(captured);
    if (reply.status == 202) {
      const auto& attachment = captured->detail;
      reply.body["attachmentId"] = attachment["attachmentId"];
      reply.body["signatureToken"] = attachment["attachmentId"];
      reply.body["sizeBytes"] = attachment["sizeBytes"];
      reply.body["sha256"] = attachment["sha256"];
    }
    return reply;
  });
}

}  // namespace fieldagent::agent::api
