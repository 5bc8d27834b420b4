// Attachments: metadata rows in the database, bytes in <data>/attachments/<id>.att encrypted
// with AES-256-GCM in fixed-size chunks.
//
// File layout: a 40-byte header, then the chunks, each `chunkBytes` of plaintext sealed to
// ciphertext || 16-byte tag; only the last chunk may be shorter (an empty file is one empty
// final chunk).
//   header = magic "FAATT" 01 00 00 (8) | chunkBytes u32 BE (4) | zero (4) | salt (16) | nonce prefix (8)
// Each file has its own key, HMAC-SHA256(data key, "fieldagent attachment key v1" || salt), so
// nonces never repeat across files under one key. A chunk's nonce is the prefix || u32 BE chunk
// index; its associated data binds the whole header, the attachment id, the chunk index and
// whether it is the last chunk: a chunk moved to another place or file, a swapped header or a
// file cut at a chunk boundary all fail the tag check.
#include <algorithm>
#include <string>
#include <utility>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/staged_file.hpp"
#include "fieldagent/storage/store.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

constexpr std::string_view kMagic{"FAATT\x01\x00\x00", 8};
constexpr std::size_t kHeaderBytes = 40;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kPrefixBytes = 8;
constexpr std::uint32_t kMaxChunkBytes = 16u << 20;

void putU32(std::string& out, std::uint64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint32_t getU32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}

struct Header {
  std::string raw;
  std::uint32_t chunkBytes = 0;
  std::string salt;
  std::string prefix;
};

Header makeHeader(std::uint32_t chunkBytes, std::string salt, std::string prefix) {
  Header h;
  h.raw = std::string(kMagic);
  putU32(h.raw, chunkBytes);
  putU32(h.raw, 0);
  h.raw += salt;
  h.raw += prefix;
  h.chunkBytes = chunkBytes;
  h.salt = std::move(salt);
  h.prefix = std::move(prefix);
  return h;
}

Result<Header> parseHeader(std::string raw, const std::string& id) {
  if (raw.size() != kHeaderBytes || std::string_view(raw).substr(0, kMagic.size()) != kMagic) {
    return makeError("corrupt", "attachment " + id + " has no valid header");
  }
  Header h;
  h.chunkBytes = getU32(std::string_view(raw).substr(8, 4));
  if (h.chunkBytes == 0 || h.chunkBytes > kMaxChunkBytes) {
    return makeError("corrupt", "attachment " + id + " names an impossible chunk size");
  }
  h.salt = raw.substr(16, kSaltBytes);
  h.prefix = raw.substr(16 + kSaltBytes, kPrefixBytes);
  h.raw = std::move(raw);
  return h;
}

std::string fileKey(const std::string& dataKey, const Header& h) {
  return platform::hmac(platform::HashAlg::sha256, dataKey, "fieldagent attachment key v1" + h.salt);
}

std::string chunkNonce(const Header& h, std::uint64_t index) {
  std::string nonce = h.prefix;
  putU32(nonce, index);
  return nonce;
}

std::string chunkAad(const Header& h, const std::string& id, std::uint64_t index, bool last) {
  std::string aad = h.raw;
  aad += id;
  putU32(aad, index >> 32);
  putU32(aad, index & 0xffffffffu);
  aad.push_back(last ? '\x01' : '\x00');
  return aad;
}

bool isLocalId(const std::string& id) {
  if (id.size() != 35 || id.compare(0, 3, "la_") != 0) return false;
  return std::all_of(id.begin() + 3, id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string quotaMessage(std::uint64_t inUse, std::uint64_t adding, std::uint64_t limit) {
  return "storing " + std::to_string(adding) + " more attachment bytes would bring the device to " +
         std::to_string(inUse + adding) + " bytes, over its quota of " + std::to_string(limit) + " (" +
         std::to_string(inUse) + " in use); upload and confirm older attachments first";
}

}  // namespace

std::string_view toString(AttachmentState state) {
  switch (state) {
    case AttachmentState::stored:
      return "stored";
    case AttachmentState::uploading:
      return "uploading";
    case AttachmentState::uploaded:
      return "uploaded";
    case AttachmentState::confirmed:
      return "confirmed";
    case AttachmentState::failed:
      return "failed";
  }
  return "unknown";
}

std::optional<AttachmentState> parseAttachmentState(std::string_view text) {
  for (AttachmentState s : {AttachmentState::stored, AttachmentState::uploading, AttachmentState::uploaded,
                            AttachmentState::confirmed, AttachmentState::failed}) {
    if (toString(s) == text) return s;
  }
  return std::nullopt;
}

// ---- writer ----------------------------------------------------------------------------------

struct AttachmentWriter::State {
  std::shared_ptr<QuotaLedger> quota;
  std::string id;
  AttachmentSpec spec;
  platform::fs::StagedFile file;
  platform::Sha256 sha;
  Header header;
  std::string key;
  std::string buffer;
  std::uint64_t chunkIndex = 0;
  std::uint64_t plainBytes = 0;
  bool spent = false;
  bool finished = false;

  State(platform::fs::StagedFile f) : file(std::move(f)) {}

  // A failed writer leaves nothing: no partial file, no bytes counted.
  Error fail(Error error) {
    spent = true;
    file.abandon();
    std::lock_guard lock(quota->mutex);
    quota->unrecorded.erase(id);
    return error;
  }

  Result<void> sealChunk(bool last) {
    auto sealed =
        platform::aesGcmSeal(key, chunkNonce(header, chunkIndex), buffer, chunkAad(header, id, chunkIndex, last));
    if (!sealed) return sealed.error();
    if (auto r = file.append(*sealed); !r) return r;
    buffer.clear();
    ++chunkIndex;
    return {};
  }
};

AttachmentWriter::AttachmentWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
AttachmentWriter::AttachmentWriter(AttachmentWriter&&) noexcept = default;
AttachmentWriter& AttachmentWriter::operator=(AttachmentWriter&&) noexcept = default;

AttachmentWriter::~AttachmentWriter() {
  if (state_ && !state_->finished && !state_->spent) (void)state_->fail(Error{});
}

const std::string& AttachmentWriter::id() const { return state_->id; }
std::uint64_t AttachmentWriter::bytesWritten() const { return state_->plainBytes; }

Result<void> AttachmentWriter::append(std::string_view bytes) {
  State& s = *state_;
  if (s.spent || s.finished) return makeError("io", "attachment " + s.id + " is no longer being written");
  std::optional<Error> refused;
  {
    std::lock_guard lock(s.quota->mutex);
    const std::uint64_t inUse = s.quota->inUseLocked();
    if (inUse + bytes.size() > s.quota->limit) {
      refused = makeError("quota_exceeded", quotaMessage(inUse, bytes.size(), s.quota->limit));
    } else {
      s.quota->unrecorded[s.id] += bytes.size();
    }
  }
  if (refused) return s.fail(*refused);
  s.sha.update(bytes);
  s.plainBytes += bytes.size();
  const std::size_t chunk = s.header.chunkBytes;
  while (!bytes.empty()) {
    // A full chunk is sealed only once more bytes arrive: until then it may be the last one.
    if (s.buffer.size() == chunk) {
      if (auto r = s.sealChunk(false); !r) return s.fail(r.error());
    }
    const std::size_t take = std::min(chunk - s.buffer.size(), bytes.size());
    s.buffer.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  return {};
}

Result<FinishedAttachment> AttachmentWriter::finish() {
  State& s = *state_;
  if (s.spent || s.finished) return makeError("io", "attachment " + s.id + " is no longer being written");
  if (auto r = s.sealChunk(true); !r) return s.fail(r.error());
  if (auto r = s.file.commit(); !r) return s.fail(r.error());
  s.finished = true;
  FinishedAttachment done;
  done.id = s.id;
  done.spec = s.spec;
  done.sizeBytes = s.plainBytes;
  done.sha256 = platform::hexEncode(s.sha.finish());
  return done;
}

Result<AttachmentWriter> Store::beginAttachment(const AttachmentSpec& spec) {
  if (spec.kind.empty()) return makeError("invalid", "an attachment needs its kind (photo, signature, document)");
  if (spec.workOrderId.empty()) return makeError("invalid", "an attachment needs its work order");
  if (spec.expectedBytes) {
    std::lock_guard lock(quota_->mutex);
    const std::uint64_t inUse = quota_->inUseLocked();
    if (inUse + *spec.expectedBytes > quota_->limit) {
      return makeError("quota_exceeded", quotaMessage(inUse, *spec.expectedBytes, quota_->limit));
    }
  }
  // The name on disk comes from the id the store makes, never from the app's file name.
  const std::string id = "la_" + detail::randomHex(entropy_, 16);
  auto file = platform::fs::StagedFile::create(attachmentsDir() / (id + ".att"), 0600);
  if (!file) return file.error();
  auto state = std::make_unique<AttachmentWriter::State>(std::move(file).value());
  state->quota = quota_;
  state->id = id;
  state->spec = spec;
  state->header = makeHeader(static_cast<std::uint32_t>(tuning::kAttachmentChunkBytes), entropy_.bytes(kSaltBytes),
                             entropy_.bytes(kPrefixBytes));
  state->key = fileKey(dataKey_, state->header);
  {
    std::lock_guard lock(quota_->mutex);
    quota_->unrecorded[id] = 0;
  }
  if (auto r = state->file.append(state->header.raw); !r) return state->fail(r.error());
  return AttachmentWriter(std::move(state));
}

// ---- reader ----------------------------------------------------------------------------------

struct AttachmentReader::State {
  platform::fs::RandomAccessFile file;
  std::string id;
  Header header;
  std::string key;
  std::uint64_t plainBytes = 0;
  std::uint64_t chunks = 0;
  std::uint64_t lastRecordBytes = 0;

  State(platform::fs::RandomAccessFile f) : file(std::move(f)) {}
};

AttachmentReader::AttachmentReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
AttachmentReader::AttachmentReader(AttachmentReader&&) noexcept = default;
AttachmentReader& AttachmentReader::operator=(AttachmentReader&&) noexcept = default;
AttachmentReader::~AttachmentReader() = default;

std::uint64_t AttachmentReader::size() const { return state_->plainBytes; }

Result<std::string> AttachmentReader::read(std::uint64_t offset, std::size_t length) const {
  const State& s = *state_;
  std::string out;
  if (offset >= s.plainBytes || length == 0) return out;
  const std::uint64_t end = std::min<std::uint64_t>(s.plainBytes, offset + length);
  const std::uint64_t chunk = s.header.chunkBytes;
  const std::uint64_t record = chunk + platform::kGcmTagBytes;
  for (std::uint64_t i = offset / chunk; i * chunk < end; ++i) {
    const bool last = i + 1 == s.chunks;
    auto sealed = s.file.readAt(kHeaderBytes + i * record, static_cast<std::size_t>(last ? s.lastRecordBytes : record));
    if (!sealed) return sealed.error();
    auto plain = platform::aesGcmOpen(s.key, chunkNonce(s.header, i), *sealed, chunkAad(s.header, s.id, i, last));
    if (!plain) {
      return makeError("corrupt", "attachment " + s.id + ": chunk " + std::to_string(i) +
                                      " fails its integrity check (altered, moved or cut off)");
    }
    const std::uint64_t chunkStart = i * chunk;
    const std::uint64_t from = std::max(offset, chunkStart) - chunkStart;
    const std::uint64_t to = std::min(end, chunkStart + plain->size()) - chunkStart;
    out.append(*plain, static_cast<std::size_t>(from), static_cast<std::size_t>(to - from));
  }
  return out;
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
  auto stmt = db.prepare(std::string("SELECT ") + kAttachmentColumns + " FROM attachments WHERE id = ?1");
  if (!stmt) return stmt.error();
  auto row = stmt->bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return makeError("not_found", "attachment " + id + " does not exist");
  return readAttachment(*stmt, dataKey);
}

}  // namespace

Result<AttachmentRecord> Store::attachment(const std::string& id) {
  std::lock_guard lock(mutex_);
  return loadAttachment(*db_, id, dataKey_);
}

Result<std::vector<AttachmentRecord>> Store::listAttachments(const std::string& workOrderId) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(std::string("SELECT ") + kAttachmentColumns +
                           " FROM attachments WHERE work_order_id = ?1 ORDER BY created_at, id");
  if (!stmt) return stmt.error();
  stmt->bind(1, workOrderId);
  std::vector<AttachmentRecord> out;
  while (true) {
    auto more = stmt->step();
    if (!more) return more.error();
    if (!*more) break;
    auto a = readAttachment(*stmt, dataKey_);
    if (!a) return a.error();
    out.push_back(std::move(a).value());
  }
  return out;
}

Result<AttachmentReader> Store::openAttachment(const std::string& id) {
  AttachmentRecord record;
  {
    std::lock_guard lock(mutex_);
    auto loaded = loadAttachment(*db_, id, dataKey_);
    if (!loaded) return loaded.error();
    record = std::move(loaded).value();
  }
  if (!record.bytesOnDevice) return makeError("gone", "attachment " + id + " was confirmed upstream and removed here");
  if (!isLocalId(id)) return makeError("corrupt", "attachment id " + id + " is not one this store makes");
  auto file = platform::fs::RandomAccessFile::open(attachmentsDir() / (id + ".att"));
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
  state->key = fileKey(dataKey_, state->header);
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

Result<void> Store::updateAttachmentUpload(const std::string& id, const AttachmentUploadUpdate& update) {
  std::lock_guard lock(mutex_);
  auto txn = Transaction::begin(*db_);
  if (!txn) return txn.error();
  auto current = loadAttachment(*db_, id, dataKey_);
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
    return makeError("invalid", "upload offset " + std::to_string(a.uploadOffset) + " is past the end of attachment " +
                                    id + " (" + std::to_string(a.sizeBytes) + " bytes)");
  }
  if (a.state == AttachmentState::confirmed && !a.confirmedAt) a.confirmedAt = clock_.now();
  // Once upstream confirmed the upload, its URL is of no further use.
  if (a.state == AttachmentState::confirmed) a.uploadUrl.clear();
  auto sealedUrl = sealUrl(dataKey_, entropy_, id, a.uploadUrl);
  if (!sealedUrl) return sealedUrl.error();
  auto stmt = db_->prepare(
      "UPDATE attachments SET state = ?2, upload_offset = ?3, upload_token = ?4, upstream_id = ?5, upload_url = ?6, "
      "upload_url_expires_at = ?7, last_error = ?8, confirmed_at = ?9 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id)
      .bind(2, toString(a.state))
      .bind(3, static_cast<std::int64_t>(a.uploadOffset))
      .bind(4, a.uploadToken)
      .bind(5, a.upstreamId)
      .bind(6, *sealedUrl)
      .bind(7, a.uploadUrlExpiresAt ? std::optional<std::int64_t>(toMillis(*a.uploadUrlExpiresAt)) : std::nullopt)
      .bind(8, a.lastError)
      .bind(9, a.confirmedAt ? std::optional<std::int64_t>(toMillis(*a.confirmedAt)) : std::nullopt);
  if (auto r = stmt->run(); !r) return r;
  return txn->commit();
}

Result<void> Store::purgeAttachmentBytes(const std::string& id) {
  std::uint64_t size = 0;
  {
    std::lock_guard lock(mutex_);
    auto txn = Transaction::begin(*db_);
    if (!txn) return txn.error();
    auto a = loadAttachment(*db_, id, dataKey_);
    if (!a) return a.error();
    if (a->state != AttachmentState::confirmed) {
      return makeError("not_confirmed", "attachment " + id + " is " + std::string(toString(a->state)) +
                                            "; its bytes stay until upstream confirms them");
    }
    if (!a->bytesOnDevice) return {};
    auto stmt = db_->prepare("UPDATE attachments SET on_device = 0 WHERE id = ?1");
    if (!stmt) return stmt.error();
    if (auto r = stmt->bind(1, id).run(); !r) return r;
    if (auto r = txn->commit(); !r) return r;
    size = a->sizeBytes;
  }
  {
    std::lock_guard lock(quota_->mutex);
    quota_->recorded -= std::min(size, quota_->recorded);
  }
  // Removed after the commit: a crash in between leaves a file the next open sweeps away.
  if (isLocalId(id)) return platform::fs::removeFile(attachmentsDir() / (id + ".att"));
  return {};
}

std::uint64_t Store::attachmentBytesInUse() {
  std::lock_guard lock(quota_->mutex);
  return quota_->inUseLocked();
}

}  // namespace fieldagent::storage
