#include "fieldagent/sync/uploader.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::sync {
namespace {

Poco::Logger& log() { return Poco::Logger::get("fieldagent.uploader"); }

// Kept at the head of the attachment's last error: one restart from 0 was spent.
constexpr ErrorCode kChecksumRestarted = "checksum_mismatch";

template <class T>
Answer<T> made(Outcome outcome, ErrorCode code, const std::string& message) {
  Answer<T> a;
  a.outcome = outcome;
  a.errorCode = code;
  a.message = message;
  return a;
}

Answer<json> asJson(const Answer<long long>& a) {
  Answer<json> out;
  out.outcome = a.outcome;
  out.status = a.status;
  if (a.value) out.value = json(*a.value);
  out.errorCode = a.errorCode;
  out.message = a.message;
  out.details = a.details;
  out.retryAfter = a.retryAfter;
  return out;
}

// The signed URL is no longer good: the contract says 403 upload_url_expired or 410. A HEAD
// carries no body, so a bare 403 on the upload URL (upstream_rejected: no code, or one the
// agent does not know) is read the same way (a renewed URL is cheap, and a second 403 ends the
// send through the round limit).
bool urlExpired(int status, ErrorCode errorCode) {
  return status == 410 || (status == 403 && (errorCode == "upload_url_expired" || errorCode == "upstream_rejected"));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

TusProgress tusSend(UpstreamClient& client, const storage::AttachmentReader& reader, const std::string& url,
                    std::size_t chunkBytes, bool sendChecksum, int chunkChecksumRetries,
                    const std::function<void(std::uint64_t)>& onProgress) {
  TusProgress progress;
  const std::uint64_t size = reader.size();
  auto learnOffset = [&]() -> bool {
    auto head = client.tusOffset(url);
    if (!head.ok()) {
      progress.stoppedBy = head;
      return false;
    }
    if (*head.value < 0 || static_cast<std::uint64_t>(*head.value) > size) {
      progress.stoppedBy = made<long long>(Outcome::rejected, "bad_offset",
                                           "the upload server reports offset " + std::to_string(*head.value) +
                                               " for a file of " + std::to_string(size) + " bytes");
      return false;
    }
    progress.offset = static_cast<std::uint64_t>(*head.value);
    if (onProgress) onProgress(progress.offset);
    return true;
  };
  if (chunkBytes == 0) {
    progress.stoppedBy = made<long long>(Outcome::rejected, "invalid", "chunk size must be positive");
    return progress;
  }
  if (!learnOffset()) return progress;
  int checksumFailures = 0;
  int offsetRetries = 0;
  while (progress.offset < size) {
    const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(chunkBytes, size - progress.offset));
    auto bytes = reader.read(progress.offset, length);
    if (!bytes) {
      progress.stoppedBy = made<long long>(Outcome::rejected, bytes.error().code, bytes.error().message);
      return progress;
    }
    auto patched = client.tusPatch(url, static_cast<long long>(progress.offset), *bytes, sendChecksum);
    if (patched.ok()) {
      const long long next = *patched.value;
      if (next <= static_cast<long long>(progress.offset) || static_cast<std::uint64_t>(next) > size) {
        // Not an answer a tus server gives; HEAD is the truth.
        if (++offsetRetries > tuning::kUploadOffsetRetries || !learnOffset()) {
          if (progress.stoppedBy.ok() || offsetRetries > tuning::kUploadOffsetRetries) {
            progress.stoppedBy = made<long long>(Outcome::retry, "bad_answer",
                                                 "the upload server answered offset " + std::to_string(next));
          }
          return progress;
        }
        continue;
      }
      progress.offset = static_cast<std::uint64_t>(next);
      checksumFailures = 0;
      offsetRetries = 0;
      if (onProgress) onProgress(progress.offset);
      continue;
    }
    // 460: the chunk arrived damaged and the server kept none of it; the same bytes again.
    if (patched.status == 460 && ++checksumFailures <= chunkChecksumRetries) {
      log().warning("chunk at offset %s failed its checksum upstream; sending it again",
                    std::to_string(progress.offset));
      continue;
    }
    if (patched.status == 409 && ++offsetRetries <= tuning::kUploadOffsetRetries) {
      if (!learnOffset()) return progress;
      continue;
    }
    progress.stoppedBy = patched;
    return progress;
  }
  progress.stoppedBy = {};
  progress.stoppedBy.outcome = Outcome::ok;
  progress.stoppedBy.status = 204;
  progress.stoppedBy.value = static_cast<long long>(progress.offset);
  return progress;
}

Uploader::Uploader(UpstreamClient& client, storage::Store& store, platform::Clock& clock,
                   const platform::Connectivity* connectivity, UploadSettings settings, ProgressObserver& progress)
    : client_(client),
      store_(store),
      clock_(clock),
      connectivity_(connectivity),
      settings_(settings),
      progress_(progress) {}

void Uploader::attachTo(Pusher& pusher) {
  pusher.setHandler(op::kAttachmentUpload, [this](const storage::OutboxOp& o) { return send(o); });
}

bool Uploader::heldByPolicy(const storage::AttachmentRecord& attachment) const {
  if (!settings_.holdLargeUploadsWhenMetered || connectivity_ == nullptr) return false;
  if (attachment.sizeBytes <= settings_.largeUploadBytes) return false;
  const auto link = connectivity_->current();
  return !link.online || link.metered;
}

std::size_t Uploader::chunkFor(const std::string& attachmentId) const {
  std::lock_guard lock(mutex_);
  auto slot = slots_.find(attachmentId);
  std::size_t chunk = settings_.chunkBytes;
  if (slot != slots_.end() && slot->second.maxChunkBytes > 0) chunk = std::min(chunk, slot->second.maxChunkBytes);
  return chunk;
}

void Uploader::rememberSlot(const std::string& attachmentId, const json& upload) {
  Slot slot;
  if (upload.is_object() && upload.contains("maxChunkBytes") && upload["maxChunkBytes"].is_number_integer() &&
      upload["maxChunkBytes"].get<long long>() > 0) {
    slot.maxChunkBytes = static_cast<std::size_t>(upload["maxChunkBytes"].get<long long>());
  } else {
    // No limit given: our own cap applies, and the slot counts as known.
    slot.maxChunkBytes = settings_.chunkBytes;
  }
  std::lock_guard lock(mutex_);
  slots_[attachmentId] = slot;
}

namespace {
std::optional<platform::WallTime> expiryOf(const json& upload) {
  if (!upload.is_object() || !upload.contains("expiresAt") || !upload["expiresAt"].is_string()) return std::nullopt;
  platform::WallTime t;
  if (!platform::parseIso8601(upload["expiresAt"].get<std::string>(), t)) return std::nullopt;
  return t;
}
}  // namespace

Answer<json> Uploader::renewUrl(const storage::AttachmentRecord& attachment) {
  auto a = client_.refreshUploadUrl(attachment.workOrderId, attachment.upstreamId);
  if (!a.ok()) return a;
  const json& upload = (*a.value)["upload"];
  rememberSlot(attachment.id, upload);
  storage::AttachmentUploadUpdate update;
  update.uploadUrl = upload["url"].get<std::string>();
  update.uploadUrlExpiresAt = expiryOf(upload);
  if (auto stored = store_.attachments().updateAttachmentUpload(attachment.id, update); !stored) {
    return made<json>(Outcome::retry, stored.error().code, stored.error().message);
  }
  return a;
}

SendResult Uploader::send(const storage::OutboxOp& operation) {
  const std::string id = operation.payload.is_object() ? operation.payload.value("attachmentId", "") : "";
  auto reject = [](ErrorCode code, const std::string& message) {
    return SendResult{made<json>(Outcome::rejected, code, message), std::nullopt};
  };
  auto retry = [](ErrorCode code, const std::string& message) {
    return SendResult{made<json>(Outcome::retry, code, message), std::nullopt};
  };
  auto load = [&]() { return store_.attachments().attachment(id); };
  auto found = load();
  if (!found) return reject("not_found", "attachment '" + id + "' is not on this device");
  storage::AttachmentRecord att = std::move(found).value();
  auto confirmedAnswer = [&](const storage::AttachmentRecord& a) {
    Answer<json> done;
    done.outcome = Outcome::ok;
    done.status = 200;
    done.value = json{{"attachmentId", a.upstreamId},
                      {"uploadToken", a.uploadToken},
                      {"sha256", a.sha256},
                      {"sizeBytes", a.sizeBytes}};
    return SendResult{done, std::nullopt};
  };
  if (att.state == storage::AttachmentState::confirmed) return confirmedAnswer(att);
  if (!att.bytesOnDevice) return reject("gone", "the local copy of attachment '" + id + "' is gone");
  if (heldByPolicy(att)) {
    return retry("waiting", "upload of " + std::to_string(att.sizeBytes) +
                                " bytes held while the link is metered or down (holdLargeUploadsWhenMetered)");
  }
  auto update = [&](const storage::AttachmentUploadUpdate& u) -> bool {
    if (!store_.attachments().updateAttachmentUpload(id, u)) return false;
    if (auto again = load(); again) att = std::move(again).value();
    return true;
  };
  if (att.state == storage::AttachmentState::failed) {
    // A person sent a parked upload again: it gets a fresh start, checksum restart included.
    storage::AttachmentUploadUpdate u;
    u.state = storage::AttachmentState::uploading;
    u.lastError = "";
    update(u);
  }

  if (att.upstreamId.empty()) {
    json body{{"kind", att.kind},         {"fileName", att.fileName},
              {"contentType", att.contentType}, {"sizeBytes", att.sizeBytes},
              {"sha256", att.sha256},     {"capturedAt", platform::formatIso8601(att.createdAt)}};
    // The operation's key: a slot requested again after a lost answer is the same slot.
    auto slot = client_.createAttachment(att.workOrderId, body, operation.idempotencyKey);
    if (!slot.ok()) return {slot, std::nullopt};
    const json& upload = (*slot.value)["upload"];
    rememberSlot(id, upload);
    storage::AttachmentUploadUpdate u;
    u.state = storage::AttachmentState::uploading;
    u.upstreamId = (*slot.value)["attachmentId"].get<std::string>();
    u.uploadToken = (*slot.value)["uploadToken"].get<std::string>();
    u.uploadUrl = upload["url"].get<std::string>();
    u.uploadUrlExpiresAt = expiryOf(upload);
    if (!update(u)) return retry("io", "could not store the upload slot of attachment '" + id + "'");
    // A replayed slot may carry a URL that expired since it was first handed out.
  }
  const bool slotKnown = [&] {
    std::lock_guard lock(mutex_);
    return slots_.count(id) > 0;
  }();
  const bool urlStale = att.uploadUrl.empty() ||
                        (att.uploadUrlExpiresAt && clock_.now() + settings_.urlRenewMargin >= *att.uploadUrlExpiresAt);
  // upstream refuses a new URL because every byte is there already (a retry after the answer
  // to the last chunk or to `complete` was lost): nothing is left to send, only to confirm.
  auto allUpstream = [](const Answer<json>& a) { return a.status == 409 && a.errorCode == "upload_complete"; };
  bool bytesUpstream = false;
  if (!slotKnown || urlStale) {
    // After a restart the chunk limit is only known from the server; a renewed URL brings it.
    auto renewed = renewUrl(att);
    if (allUpstream(renewed)) {
      bytesUpstream = true;
    } else {
      if (!renewed.ok()) return {renewed, std::nullopt};
      if (auto again = load(); again) att = std::move(again).value();
    }
  }

  auto opened = store_.attachments().openAttachment(id);
  if (!opened) {
    storage::AttachmentUploadUpdate u;
    u.state = storage::AttachmentState::failed;
    u.lastError = opened.error().describe();
    update(u);
    return reject(opened.error().code, "attachment '" + id + "' cannot be read: " + opened.error().message);
  }
  const storage::AttachmentReader reader = std::move(opened).value();

  // What the progress observer has been told is on upstream of this file. Every offset upstream
  // names moves it: forward by what a chunk (or an earlier send) put there, back to 0 by a
  // checksum restart, which plans those bytes again.
  progress_.uploadPlanned(reader.size());
  std::uint64_t told = 0;
  auto tellOffset = [&](std::uint64_t offset) {
    if (offset > told) progress_.uploadedBytes(offset - told);
    if (offset < told) progress_.uploadPlanned(told - offset);
    told = offset;
  };
  for (int round = 0; round < tuning::kUploadRoundsPerSend; ++round) {
    TusProgress progress;
    if (bytesUpstream) {
      progress.offset = reader.size();
      progress.stoppedBy.outcome = Outcome::ok;
      progress.stoppedBy.status = 204;
      progress.stoppedBy.value = static_cast<long long>(progress.offset);
      tellOffset(progress.offset);
    } else {
      progress = tusSend(client_, reader, att.uploadUrl, chunkFor(id), settings_.sendChecksum,
                         settings_.chunkChecksumRetries, [&](std::uint64_t offset) {
                           storage::AttachmentUploadUpdate u;
                           u.uploadOffset = offset;
                           (void)store_.attachments().updateAttachmentUpload(id, u);
                           tellOffset(offset);
                         });
    }
    if (!progress.stoppedBy.ok()) {
      const auto& stop = progress.stoppedBy;
      if (urlExpired(stop.status, stop.errorCode)) {
        auto renewed = renewUrl(att);
        if (allUpstream(renewed)) {
          bytesUpstream = true;
          continue;
        }
        if (!renewed.ok()) return {renewed, std::nullopt};
        if (auto again = load(); again) att = std::move(again).value();
        continue;
      }
      if (stop.errorCode == "corrupt") {
        storage::AttachmentUploadUpdate u;
        u.state = storage::AttachmentState::failed;
        u.lastError = "corrupt: " + stop.message;
        update(u);
        return reject("corrupt", "the local copy of attachment '" + id + "' is damaged: " + stop.message);
      }
      return {asJson(stop), std::nullopt};  // transport, 5xx, ...: the offset is stored
    }
    {
      storage::AttachmentUploadUpdate u;
      u.state = storage::AttachmentState::uploaded;
      u.uploadOffset = progress.offset;
      update(u);
    }
    auto completed = client_.completeAttachment(att.workOrderId, att.upstreamId);
    if (completed.ok()) {
      const std::string theirs = lower(completed.value->value("sha256", ""));
      if (!theirs.empty() && theirs != lower(att.sha256)) {
        return reject("checksum_mismatch", "upstream confirmed attachment '" + att.upstreamId + "' with SHA-256 " +
                                               theirs + " but the captured file has " + att.sha256);
      }
      storage::AttachmentUploadUpdate u;
      u.state = storage::AttachmentState::confirmed;
      u.lastError = "";
      update(u);
      return confirmedAnswer(att);
    }
    if (completed.status == 409 && completed.errorCode == "upload_incomplete") {
      storage::AttachmentUploadUpdate u;
      u.state = storage::AttachmentState::uploading;
      if (completed.details.is_object() && completed.details.contains("offset") &&
          completed.details["offset"].is_number_unsigned()) {
        u.uploadOffset = completed.details["offset"].get<std::uint64_t>();
      }
      update(u);
      continue;  // the next pass asks HEAD and sends the rest
    }
    if (completed.status == 422 && completed.errorCode == "checksum_mismatch") {
      if (att.lastError.rfind(kChecksumRestarted.str(), 0) == 0) {
        const std::string reason = "checksum_mismatch twice: upstream's copy of attachment '" + att.upstreamId +
                                   "' did not match its SHA-256 after a restart from 0; parked";
        storage::AttachmentUploadUpdate u;
        u.state = storage::AttachmentState::failed;
        u.lastError = reason;
        update(u);
        log().error("%s", reason);
        return reject("checksum_mismatch", reason);
      }
      // The server reset the upload to 0; one restart, remembered across restarts of the agent.
      storage::AttachmentUploadUpdate u;
      u.state = storage::AttachmentState::uploading;
      u.uploadOffset = 0;
      u.lastError = kChecksumRestarted.str() + ": upstream's copy did not match; starting over from 0";
      update(u);
      log().warning("attachment %s failed its checksum on complete; starting over", id);
      continue;
    }
    return {completed, std::nullopt};
  }
  return retry("upload_unsettled", "attachment '" + id + "' needed more than " + std::to_string(tuning::kUploadRoundsPerSend) +
                                       " rounds (URL renewals, resumes) in one send; trying again later");
}

Result<int> Uploader::sweepRetention(platform::WallTime now) {
  auto ids = store_.workOrders().workOrderIds();
  if (!ids) return ids.error();
  int removed = 0;
  for (const auto& workOrderId : *ids) {
    auto attachments = store_.attachments().listAttachments(workOrderId);
    if (!attachments) return attachments.error();
    for (const auto& a : *attachments) {
      if (a.state != storage::AttachmentState::confirmed || !a.bytesOnDevice || !a.confirmedAt) continue;
      if (*a.confirmedAt + settings_.retention > now) continue;
      auto purged = store_.attachments().purgeAttachmentBytes(a.id);
      if (!purged) return purged.error();
      ++removed;
    }
  }
  return removed;
}

}  // namespace fieldagent::sync
