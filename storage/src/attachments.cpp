// The Attachments part: rows of attachments, their upload state (with the signed URL sealed),
// opening one for reading, the purge after confirmation and the quota.
#include <algorithm>
#include <string>
#include <utility>

#include "attachment_file.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

using detail::fileKey;
using detail::isLocalId;
using detail::kHeaderBytes;
using detail::kPrefixBytes;
using detail::kSaltBytes;
using detail::makeHeader;
using detail::parseHeader;
using detail::quotaMessage;

namespace {

constexpr detail::EnumName<AttachmentState> kStateNames[] = {{AttachmentState::stored, "stored"},
                                                             {AttachmentState::uploading, "uploading"},
                                                             {AttachmentState::uploaded, "uploaded"},
                                                             {AttachmentState::confirmed, "confirmed"},
                                                             {AttachmentState::failed, "failed"}};

}  // namespace

std::string_view toString(AttachmentState state) { return detail::nameOf(state, kStateNames); }

std::optional<AttachmentState> parseAttachmentState(std::string_view text) {
  return detail::valueNamed(text, kStateNames);
}

// ---- metadata --------------------------------------------------------------------------------

namespace {

// A signed upload URL is a credential (whoever holds it may write the upload until it
// expires), so the row keeps it sealed with a key derived from the data key, bound to the
// attachment id: the database, its WAL and any copy of them never show it. A value that does
// not open (or an old row's plain text) reads as no URL, and the uploader asks for a fresh one.
constexpr std::string_view kSealedUrlPrefix = "sealed1:";

std::string urlKey(const std::string& dataKey) {
  return platform::hmac(platform::HashAlg::sha256, dataKey, "fieldagent upload url key v1");
}

Result<std::string> sealUrl(const std::string& dataKey, platform::Entropy& entropy, const std::string& id,
                            const std::string& url) {
  if (url.empty()) return std::string();
  const std::string nonce = entropy.bytes(platform::kGcmNonceBytes);
  auto sealed = platform::aesGcmSeal(urlKey(dataKey), nonce, url, "upload_url " + id);
  if (!sealed) return sealed.error();
  return std::string(kSealedUrlPrefix) + platform::base64Encode(nonce + *sealed);
}

std::string openUrl(const std::string& dataKey, const std::string& id, const std::string& stored) {
  if (stored.rfind(kSealedUrlPrefix, 0) != 0) return {};
  auto raw = platform::base64Decode(std::string_view(stored).substr(kSealedUrlPrefix.size()));
  if (!raw || raw->size() < platform::kGcmNonceBytes + platform::kGcmTagBytes) return {};
  auto plain = platform::aesGcmOpen(urlKey(dataKey), raw->substr(0, platform::kGcmNonceBytes),
                                    raw->substr(platform::kGcmNonceBytes), "upload_url " + id);
  return plain ? *plain : std::string();
}

constexpr const char* kAttachmentColumns =
    "id, work_order_id, kind, file_name, content_type, size_bytes, sha256, state, upload_offset, upload_token, "
    "upstream_id, upload_url, upload_url_expires_at, last_error, on_device, created_at, confirmed_at";

Result<AttachmentRecord> readAttachment(Statement& row, const std::string& dataKey) {
  AttachmentRecord a;
  a.id = row.text(0);
  a.workOrderId = row.text(1);
  a.kind = row.text(2);
  a.fileName = row.text(3);
  a.contentType = row.text(4);
  a.sizeBytes = static_cast<std::uint64_t>(row.integer(5));
  a.sha256 = row.text(6);
  const auto state = parseAttachmentState(row.text(7));
  if (!state) return makeError("corrupt", "attachment " + a.id + " has an unknown state");
  a.state = *state;
  a.uploadOffset = static_cast<std::uint64_t>(row.integer(8));
  a.uploadToken = row.text(9);
  a.upstreamId = row.text(10);
  a.uploadUrl = openUrl(dataKey, a.id, row.text(11));
  if (!row.isNull(12)) a.uploadUrlExpiresAt = fromMillis(row.integer(12));
  a.lastError = row.text(13);
  a.bytesOnDevice = row.integer(14) != 0;
  a.createdAt = fromMillis(row.integer(15));
  if (!row.isNull(16)) a.confirmedAt = fromMillis(row.integer(16));
  return a;
}

Result<AttachmentRecord> loadAttachment(Database& db, const std::string& id, const std::string& dataKey) {
  auto stmt = db.query(std::string("SELECT ") + kAttachmentColumns + " FROM attachments WHERE id = ?1", id);
  if (!stmt) return stmt.error();
  auto found = stmt->firstRow([&](Statement& row) { return readAttachment(row, dataKey); });
  if (!found) return found.error();
  if (!*found) return makeError("not_found", "attachment " + id + " does not exist");
  return std::move(**found);
}

}  // namespace

Result<AttachmentWriter> Attachments::beginAttachment(const AttachmentSpec& spec) {
  if (spec.kind.empty()) return makeError("invalid", "an attachment needs its kind (photo, signature, document)");
  if (spec.workOrderId.empty()) return makeError("invalid", "an attachment needs its work order");
  if (spec.expectedBytes) {
    std::lock_guard lock(core_.quota->mutex);
    const std::uint64_t inUse = core_.quota->inUseLocked();
    if (inUse + *spec.expectedBytes > core_.quota->limit) {
      return makeError("quota_exceeded", quotaMessage(inUse, *spec.expectedBytes, core_.quota->limit));
    }
  }
  // The name on disk comes from the id the store makes, never from the app's file name.
  const std::string id = "la_" + detail::randomHex(core_.entropy, 16);
  auto file = platform::fs::StagedFile::create(core_.attachmentsDir() / (id + ".att"), 0600);
  if (!file) return file.error();
  auto state = std::make_unique<AttachmentWriter::State>(std::move(file).value());
  state->quota = core_.quota;
  state->id = id;
  state->spec = spec;
  state->header = makeHeader(static_cast<std::uint32_t>(tuning::kAttachmentChunkBytes), core_.entropy.bytes(kSaltBytes),
                             core_.entropy.bytes(kPrefixBytes));
  state->key = fileKey(core_.dataKey, state->header);
  {
    std::lock_guard lock(core_.quota->mutex);
    core_.quota->unrecorded[id] = 0;
  }
  if (auto r = state->file.append(state->header.raw); !r) return state->fail(r.error());
  return AttachmentWriter(std::move(state));
}

Result<AttachmentRecord> Attachments::attachment(const std::string& id) {
  auto lock = core_.db().lock();
  return loadAttachment(core_.db(), id, core_.dataKey);
}

Result<std::vector<AttachmentRecord>> Attachments::listAttachments(const std::string& workOrderId) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(std::string("SELECT ") + kAttachmentColumns +
                                   " FROM attachments WHERE work_order_id = ?1 ORDER BY created_at, id",
                               workOrderId);
  if (!stmt) return stmt.error();
  return stmt->rows([&](Statement& row) { return readAttachment(row, core_.dataKey); });
}

Result<AttachmentReader> Attachments::openAttachment(const std::string& id) {
  AttachmentRecord record;
  {
    auto lock = core_.db().lock();
    auto loaded = loadAttachment(core_.db(), id, core_.dataKey);
    if (!loaded) return loaded.error();
    record = std::move(loaded).value();
  }
  if (!record.bytesOnDevice) return makeError("gone", "attachment " + id + " was confirmed upstream and removed here");
  if (!isLocalId(id)) return makeError("corrupt", "attachment id " + id + " is not one this store makes");
  auto file = platform::fs::RandomAccessFile::open(core_.attachmentsDir() / (id + ".att"));
  if (!file) return file.error();
  auto state = std::make_unique<AttachmentReader::State>(std::move(file).value());
  state->id = id;
  const std::uint64_t fileBytes = state->file.size();
  if (fileBytes < kHeaderBytes + platform::kGcmTagBytes) {
    return makeError("corrupt", "attachment " + id + " is cut off (" + std::to_string(fileBytes) + " bytes on disk)");
  }
  auto raw = state->file.readAt(0, kHeaderBytes);
  if (!raw) return raw.error();
  auto header = parseHeader(std::move(raw).value(), id);
  if (!header) return header.error();
  state->header = std::move(header).value();
  state->key = fileKey(core_.dataKey, state->header);
  const std::uint64_t sealedChunk = state->header.chunkBytes + platform::kGcmTagBytes;
  const std::uint64_t body = fileBytes - kHeaderBytes;
  state->chunks = (body + sealedChunk - 1) / sealedChunk;
  state->lastRecordBytes = body - (state->chunks - 1) * sealedChunk;
  if (state->lastRecordBytes < platform::kGcmTagBytes) {
    return makeError("corrupt", "attachment " + id + " ends inside a chunk's tag");
  }
  state->plainBytes = (state->chunks - 1) * state->header.chunkBytes + state->lastRecordBytes - platform::kGcmTagBytes;
  if (state->plainBytes != record.sizeBytes) {
    return makeError("corrupt", "attachment " + id + " holds " + std::to_string(state->plainBytes) +
                                    " bytes on disk, not the " + std::to_string(record.sizeBytes) + " recorded");
  }
  return AttachmentReader(std::move(state));
}

Result<void> Attachments::updateAttachmentUpload(const std::string& id, const AttachmentUploadUpdate& update) {
  return core_.transact([&](Database& db, std::int64_t) -> Result<void> {
    auto current = loadAttachment(db, id, core_.dataKey);
    if (!current) return current.error();
    AttachmentRecord a = std::move(current).value();
    if (update.state) a.state = *update.state;
    if (update.uploadOffset) a.uploadOffset = *update.uploadOffset;
    if (update.uploadToken) a.uploadToken = *update.uploadToken;
    if (update.upstreamId) a.upstreamId = *update.upstreamId;
    if (update.uploadUrl) a.uploadUrl = *update.uploadUrl;
    if (update.uploadUrlExpiresAt) a.uploadUrlExpiresAt = update.uploadUrlExpiresAt;
    if (update.lastError) a.lastError = *update.lastError;
    if (a.uploadOffset > a.sizeBytes) {
      return makeError("invalid", "upload offset " + std::to_string(a.uploadOffset) +
                                      " is past the end of attachment " + id + " (" + std::to_string(a.sizeBytes) +
                                      " bytes)");
    }
    if (a.state == AttachmentState::confirmed && !a.confirmedAt) a.confirmedAt = core_.clock.now();
    // Once upstream confirmed the upload, its URL is of no further use.
    if (a.state == AttachmentState::confirmed) a.uploadUrl.clear();
    auto sealedUrl = sealUrl(core_.dataKey, core_.entropy, id, a.uploadUrl);
    if (!sealedUrl) return sealedUrl.error();
    const auto millis = [](const std::optional<WallTime>& t) {
      return t ? std::optional<std::int64_t>(toMillis(*t)) : std::nullopt;
    };
    return db.run(
        "UPDATE attachments SET state = ?2, upload_offset = ?3, upload_token = ?4, upstream_id = ?5, upload_url = ?6, "
        "upload_url_expires_at = ?7, last_error = ?8, confirmed_at = ?9 WHERE id = ?1",
        id, toString(a.state), static_cast<std::int64_t>(a.uploadOffset), a.uploadToken, a.upstreamId, *sealedUrl,
        millis(a.uploadUrlExpiresAt), a.lastError, millis(a.confirmedAt));
  });
}

Result<void> Attachments::purgeAttachmentBytes(const std::string& id) {
  std::uint64_t size = 0;
  {
    auto lock = core_.db().lock();
    auto txn = Transaction::begin(core_.db());
    if (!txn) return txn.error();
    auto a = loadAttachment(core_.db(), id, core_.dataKey);
    if (!a) return a.error();
    if (a->state != AttachmentState::confirmed) {
      return makeError("not_confirmed", "attachment " + id + " is " + std::string(toString(a->state)) +
                                            "; its bytes stay until upstream confirms them");
    }
    if (!a->bytesOnDevice) return {};
    if (auto r = core_.db().run("UPDATE attachments SET on_device = 0 WHERE id = ?1", id); !r) return r;
    if (auto r = txn->commit(); !r) return r;
    size = a->sizeBytes;
  }
  {
    std::lock_guard lock(core_.quota->mutex);
    core_.quota->recorded -= std::min(size, core_.quota->recorded);
  }
  // Removed after the commit: a crash in between leaves a file the next open sweeps away.
  if (isLocalId(id)) return platform::fs::removeFile(core_.attachmentsDir() / (id + ".att"));
  return {};
}

std::uint64_t Attachments::attachmentBytesInUse() {
  std::lock_guard lock(core_.quota->mutex);
  return core_.quota->inUseLocked();
}

}  // namespace fieldagent::storage
