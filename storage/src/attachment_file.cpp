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

#include "attachment_file.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::storage {

namespace detail {
namespace {

constexpr std::string_view kMagic{"FAATT\x01\x00\x00", 8};
// Not a tuning knob but part of the format: a length field beyond this is a damaged file.
constexpr std::uint32_t kMaxChunkBytes = 16u << 20;

void putU32(std::string& out, std::uint64_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint32_t getU32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

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

namespace {

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

}  // namespace

bool isLocalId(const std::string& id) {
  if (id.size() != 35 || id.compare(0, 3, "la_") != 0) return false;
  return std::all_of(id.begin() + 3, id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string quotaMessage(std::uint64_t inUse, std::uint64_t adding, std::uint64_t limit) {
  return "storing " + std::to_string(adding) + " more attachment bytes would bring the device to " +
         std::to_string(inUse + adding) + " bytes, over its quota of " + std::to_string(limit) + " (" +
         std::to_string(inUse) + " in use); upload and confirm older attachments first";
}

}  // namespace detail

using detail::chunkAad;
using detail::chunkNonce;
using detail::kHeaderBytes;

// ---- writer ----------------------------------------------------------------------------------

Error AttachmentWriter::State::fail(Error error) {
  spent = true;
  file.abandon();
  std::lock_guard lock(quota->mutex);
  quota->unrecorded.erase(id);
  return error;
}

Result<void> AttachmentWriter::State::sealChunk(bool last) {
  auto sealed =
      platform::aesGcmSeal(key, chunkNonce(header, chunkIndex), buffer, chunkAad(header, id, chunkIndex, last));
  if (!sealed) return sealed.error();
  if (auto r = file.append(*sealed); !r) return r;
  buffer.clear();
  ++chunkIndex;
  return {};
}

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
      refused = makeError("quota_exceeded", detail::quotaMessage(inUse, bytes.size(), s.quota->limit));
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

// ---- reader ----------------------------------------------------------------------------------

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

}  // namespace fieldagent::storage
