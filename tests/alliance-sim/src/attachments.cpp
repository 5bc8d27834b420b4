// Attachments: upload slots, signed tus upload URLs, completion with SHA-256, signed downloads.
#include <algorithm>
#include <cctype>
#include <fstream>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

namespace {

constexpr std::int64_t kMaxUploadBytes = std::int64_t{1} << 30;

struct AttachmentRow {
  std::string attachmentId;
  std::string workOrderId;
  std::string uploadToken;
  std::string kind;
  std::string fileName;
  std::string contentType;
  std::int64_t sizeBytes;
  std::string sha256;
  std::int64_t offset;
  std::string status;
};

const char* kAttachmentColumns =
    "attachment_id, work_order_id, upload_token, kind, file_name, content_type, size_bytes, sha256, offset, status";

AttachmentRow readRow(const Statement& st) {
  return {st.text(0), st.text(1),    st.text(2), st.text(3),    st.text(4),
          st.text(5), st.integer(6), st.text(7), st.integer(8), st.text(9)};
}

std::optional<AttachmentRow> findAttachment(Database& db, const std::string& attachmentId) {
  Statement& st =
      db.run(std::string("SELECT ") + kAttachmentColumns + " FROM attachments WHERE attachment_id = ?", attachmentId);
  if (!st.step()) return std::nullopt;
  return readRow(st);
}

void tusHeaders(HttpReply& r) { r.headers.emplace_back("Tus-Resumable", "1.0.0"); }

HttpReply tusError(int status, const std::string& code, const std::string& message, const json& details = nullptr) {
  HttpReply r = jsonReply(status, errorBody(code, message, details));
  tusHeaders(r);
  return r;
}

bool isHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

}  // namespace

json Simulator::uploadDescriptor(const std::string& attachmentId) {
  const std::int64_t expires = clock_.nowUnix() + config_.uploadUrlTtlSeconds;
  return {{"protocol", "tus"},
          {"url", signUrl("uploads", attachmentId, expires)},
          {"expiresAt", isoFromUnix(expires)},
          {"maxChunkBytes", config_.maxChunkBytes}};
}

HttpReply Simulator::postAttachment(Request& req) {
  requireEntitlement(req, "workOrders");
  const std::string workOrderId = requireWorkOrder(req.segments[1]).doc["workOrderId"];
  const json body = req.body();
  const std::string kind = check::string(body, "kind", "");
  if (kind != "photo" && kind != "signature" && kind != "document") {
    throw HttpError{400, "invalid_request", "kind must be photo, signature or document", json{{"field", "kind"}}};
  }
  const std::string fileName = check::string(body, "fileName", "");
  const std::string contentType = check::string(body, "contentType", "");
  // Both end up in response headers of the download; control characters would split them.
  for (const auto& [field, value] : {std::pair{"fileName", &fileName}, std::pair{"contentType", &contentType}}) {
    if (value->size() > 255 ||
        std::any_of(value->begin(), value->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
      throw HttpError{400, "invalid_request", std::string(field) + " must be at most 255 printable characters",
                      json{{"field", field}}};
    }
  }
  const json& size = check::field(body, "sizeBytes", "");
  if (!size.is_number_integer() || size.get<std::int64_t>() < 0 || size.get<std::int64_t>() > kMaxUploadBytes) {
    throw HttpError{400, "invalid_request", "sizeBytes must be an integer from 0 to 1073741824",
                    json{{"field", "sizeBytes"}}};
  }
  std::string sha = check::string(body, "sha256", "");
  if (!isHex64(sha)) {
    throw HttpError{400, "invalid_request", "sha256 must be the 64 hex digits of the file's SHA-256",
                    json{{"field", "sha256"}}};
  }
  for (char& c : sha) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto capturedAt = check::optionalTimestamp(body, "capturedAt", "");

  const std::string attachmentId = newId("att_");
  const std::string uploadToken = newId("upl_");
  auto created = platform::fs::atomicWrite(uploadFile(attachmentId), "", 0600);
  if (!created) throw HttpError{500, "internal", "cannot create the upload file: " + created.error().message};
  db_->write(
      "INSERT INTO attachments(attachment_id, work_order_id, upload_token, kind, file_name, content_type, size_bytes, "
      "sha256, captured_at, offset, status, created_at) VALUES(?,?,?,?,?,?,?,?,?,0,'pending',?)",
      attachmentId, workOrderId, uploadToken, kind, fileName, contentType, size.get<std::int64_t>(), sha, capturedAt,
      platform::formatIso8601(clock_.now()));
  return jsonReply(
      201, {{"attachmentId", attachmentId}, {"uploadToken", uploadToken}, {"upload", uploadDescriptor(attachmentId)}});
}

HttpReply Simulator::listAttachments(Request& req) {
  requireEntitlement(req, "workOrders");
  const std::string workOrderId = requireWorkOrder(req.segments[1]).doc["workOrderId"];
  const Page page = req.page();
  const std::int64_t total =
      db_->scalar("SELECT COUNT(*) FROM attachments WHERE work_order_id = ?", workOrderId).value_or(0);
  Statement& st = db_->run(std::string("SELECT ") + kAttachmentColumns +
                               " FROM attachments WHERE work_order_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
                           workOrderId, page.pageSize, page.offset());
  const std::int64_t expires = clock_.nowUnix() + config_.uploadUrlTtlSeconds;
  json items = json::array();
  while (st.step()) {
    const AttachmentRow a = readRow(st);
    const bool available = a.status == "available";
    items.push_back({{"attachmentId", a.attachmentId},
                     {"kind", a.kind},
                     {"fileName", a.fileName},
                     {"contentType", a.contentType},
                     {"sizeBytes", a.sizeBytes},
                     {"sha256", a.sha256},
                     {"status", a.status},
                     {"downloadUrl", available ? json(signUrl("downloads", a.attachmentId, expires)) : json(nullptr)},
                     {"downloadExpiresAt", available ? json(isoFromUnix(expires)) : json(nullptr)}});
  }
  return jsonReply(200, pageBody(std::move(items), page, total));
}

namespace {
AttachmentRow attachmentOf(Database& db, const std::string& workOrderId, const std::string& attachmentId) {
  auto a = findAttachment(db, attachmentId);
  if (!a || a->workOrderId != workOrderId) {
    throw HttpError{404, "not_found", "no attachment " + attachmentId + " on work order " + workOrderId};
  }
  return *a;
}
}  // namespace

HttpReply Simulator::refreshUploadUrl(Request& req) {
  requireEntitlement(req, "workOrders");
  const std::string workOrderId = requireWorkOrder(req.segments[1]).doc["workOrderId"];
  const AttachmentRow a = attachmentOf(*db_, workOrderId, req.segments[3]);
  if (a.status == "available") {
    throw HttpError{409, "upload_complete", "the attachment is complete; there is nothing left to upload"};
  }
  return jsonReply(200, {{"upload", uploadDescriptor(a.attachmentId)}});
}

HttpReply Simulator::completeAttachment(Request& req) {
  requireEntitlement(req, "workOrders");
  const std::string workOrderId = requireWorkOrder(req.segments[1]).doc["workOrderId"];
  const AttachmentRow a = attachmentOf(*db_, workOrderId, req.segments[3]);
  const json done = {
      {"attachmentId", a.attachmentId}, {"status", "available"}, {"sha256", a.sha256}, {"sizeBytes", a.sizeBytes}};
  if (a.status == "available") return jsonReply(200, done);
  if (a.offset < a.sizeBytes) {
    throw HttpError{409, "upload_incomplete",
                    "the server holds " + std::to_string(a.offset) + " of " + std::to_string(a.sizeBytes) + " bytes",
                    json{{"offset", a.offset}}};
  }
  // Hashed in pieces: an upload may be far larger than a request.
  platform::Sha256 hash;
  {
    std::ifstream file(uploadFile(a.attachmentId), std::ios::binary);
    if (!file) throw HttpError{500, "internal", "cannot read the upload file"};
    std::string buffer(1 << 16, '\0');
    std::int64_t left = a.sizeBytes;
    while (left > 0 && file) {
      file.read(buffer.data(), static_cast<std::streamsize>(std::min<std::int64_t>(left, 1 << 16)));
      hash.update(std::string_view(buffer.data(), static_cast<std::size_t>(file.gcount())));
      left -= file.gcount();
    }
  }
  const std::string actual = platform::hexEncode(hash.finish());
  if (actual != a.sha256) {
    auto cleared = platform::fs::atomicWrite(uploadFile(a.attachmentId), "", 0600);
    if (!cleared) throw HttpError{500, "internal", "cannot reset the upload: " + cleared.error().message};
    db_->write("UPDATE attachments SET offset = 0 WHERE attachment_id = ?", a.attachmentId);
    HttpReply r = jsonReply(422, errorBody("checksum_mismatch",
                                           "the uploaded bytes hash to " + actual + ", not " + a.sha256 +
                                               "; the upload was reset to offset 0",
                                           json{{"expected", a.sha256}, {"actual", actual}, {"offset", 0}}));
    r.keepChanges = true;
    return r;
  }
  db_->write("UPDATE attachments SET status = 'available' WHERE attachment_id = ?", a.attachmentId);
  return jsonReply(200, done);
}

namespace {
// Checks a signed URL's expires/signature query against the request's path.
std::optional<HttpReply> refuseSignedUrl(const Simulator::Request& req, const std::string& secret, std::int64_t now,
                                         const char* expiredCode, bool tus) {
  auto fail = [&](const std::string& code, const std::string& message) {
    HttpReply r = jsonReply(403, errorBody(code, message));
    if (tus) r.headers.emplace_back("Tus-Resumable", "1.0.0");
    return r;
  };
  auto expires = req.param("expires");
  auto signature = req.param("signature");
  if (!expires || !signature) return fail("invalid_signature", "the URL lacks its expires or signature parameter");
  const std::string expected =
      platform::hexEncode(platform::hmac(platform::HashAlg::sha256, secret, req.path + "\n" + *expires));
  if (!platform::constantTimeEqual(expected, *signature)) {
    return fail("invalid_signature", "the URL's signature does not match; ask for a fresh URL");
  }
  std::int64_t when = 0;
  try {
    when = std::stoll(*expires);
  } catch (const std::exception&) {
    return fail("invalid_signature", "the URL's expires parameter is not a number");
  }
  if (when <= now) return fail(expiredCode, "the signed URL expired at " + isoFromUnix(when));
  return std::nullopt;
}
}  // namespace

HttpReply Simulator::uploadResource(Request& req) {
  const std::string& method = req.call.method;
  if (method == "OPTIONS") {
    HttpReply r;
    r.status = 204;
    tusHeaders(r);
    r.headers.emplace_back("Tus-Version", "1.0.0");
    r.headers.emplace_back("Tus-Extension", "checksum");
    r.headers.emplace_back("Tus-Checksum-Algorithm", "sha256");
    r.headers.emplace_back("Tus-Max-Size", std::to_string(kMaxUploadBytes));
    return r;
  }
  if (method != "HEAD" && method != "PATCH") {
    HttpReply r = tusError(405, "method_not_allowed", "allowed here: HEAD, PATCH, OPTIONS");
    r.headers.emplace_back("Allow", "HEAD, PATCH, OPTIONS");
    return r;
  }
  if (auto refused = refuseSignedUrl(req, secret_, clock_.nowUnix(), "upload_url_expired", true)) return *refused;
  if (req.call.header("tus-resumable") != "1.0.0") {
    HttpReply r = tusError(412, "tus_version_unsupported", "Tus-Resumable: 1.0.0 is required");
    r.headers.emplace_back("Tus-Version", "1.0.0");
    return r;
  }
  auto found = findAttachment(*db_, req.segments[1]);
  if (!found) return tusError(404, "not_found", "no such upload");
  const AttachmentRow& a = *found;
  auto offsetHeaders = [&](HttpReply& r, std::int64_t offset) {
    r.headers.emplace_back("Upload-Offset", std::to_string(offset));
    r.headers.emplace_back("Upload-Length", std::to_string(a.sizeBytes));
    r.headers.emplace_back("Cache-Control", "no-store");
  };
  if (method == "HEAD") {
    HttpReply r;
    r.status = 200;
    r.contentType.clear();
    tusHeaders(r);
    offsetHeaders(r, a.offset);
    return r;
  }

  if (req.call.header("content-type") != "application/offset+octet-stream") {
    return tusError(415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream");
  }
  const std::string offsetText = req.call.header("upload-offset");
  std::int64_t offset = -1;
  if (!offsetText.empty() && offsetText.size() < 19 &&
      offsetText.find_first_not_of("0123456789") == std::string::npos) {
    offset = std::stoll(offsetText);
  }
  if (offset < 0) return tusError(400, "invalid_request", "Upload-Offset must be a non-negative integer");
  if (offset != a.offset) {
    HttpReply r =
        tusError(409, "offset_mismatch", "the upload is at offset " + std::to_string(a.offset) + ", not " + offsetText,
                 json{{"offset", a.offset}});
    r.headers.emplace_back("Upload-Offset", std::to_string(a.offset));
    return r;
  }
  const std::string& chunk = req.call.body;
  if (chunk.size() > static_cast<std::size_t>(config_.maxChunkBytes)) {
    return tusError(413, "chunk_too_large",
                    "a chunk may carry at most " + std::to_string(config_.maxChunkBytes) + " bytes");
  }
  if (offset + static_cast<std::int64_t>(chunk.size()) > a.sizeBytes) {
    return tusError(413, "exceeds_upload_length", "the chunk goes past the declared sizeBytes");
  }
  if (req.call.hasHeader("upload-checksum")) {
    const std::string value = req.call.header("upload-checksum");
    const auto space = value.find(' ');
    const std::string algorithm = value.substr(0, space);
    if (algorithm != "sha256" || space == std::string::npos) {
      return tusError(400, "checksum_algorithm_unsupported", "Upload-Checksum supports sha256 only");
    }
    auto digest = platform::base64Decode(value.substr(space + 1));
    if (!digest || !platform::constantTimeEqual(*digest, platform::sha256(chunk))) {
      return tusError(460, "checksum_mismatch", "the chunk does not match its Upload-Checksum; nothing of it was kept");
    }
  }
  {
    std::fstream file(uploadFile(a.attachmentId), std::ios::in | std::ios::out | std::ios::binary);
    if (!file) return tusError(500, "internal", "the upload file is missing");
    file.seekp(offset);
    file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    file.flush();
    if (!file) return tusError(500, "internal", "cannot write the chunk");
  }
  const std::int64_t newOffset = offset + static_cast<std::int64_t>(chunk.size());
  db_->write("UPDATE attachments SET offset = ? WHERE attachment_id = ?", newOffset, a.attachmentId);
  HttpReply r;
  r.status = 204;
  r.contentType.clear();
  tusHeaders(r);
  offsetHeaders(r, newOffset);
  return r;
}

HttpReply Simulator::download(Request& req) {
  if (auto refused = refuseSignedUrl(req, secret_, clock_.nowUnix(), "download_url_expired", false)) return *refused;
  auto a = findAttachment(*db_, req.segments[1]);
  if (!a || a->status != "available") throw HttpError{404, "not_found", "no completed attachment " + req.segments[1]};
  auto bytes = platform::fs::readFile(uploadFile(a->attachmentId), static_cast<std::uint64_t>(kMaxUploadBytes));
  if (!bytes) throw HttpError{500, "internal", "cannot read the attachment: " + bytes.error().message};
  HttpReply r;
  r.status = 200;
  r.contentType = a->contentType;
  r.body = bytes->substr(0, static_cast<std::size_t>(a->sizeBytes));
  r.headers.emplace_back("ETag", "\"" + a->sha256 + "\"");
  std::string quotedName = a->fileName;
  std::replace(quotedName.begin(), quotedName.end(), '"', '\'');
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + quotedName + "\"");
  return r;
}

}  // namespace fieldagent::sim
