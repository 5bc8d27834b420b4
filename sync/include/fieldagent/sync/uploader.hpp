#pragma once
// Photos, signatures and documents between the device and upstream (docs/uploads.md):
// - capture: attachment_intake.hpp (an app's bytes into the store, recorded for upload);
// - upload: the pusher's handler for attachment_upload: slot request, tus in checksummed chunks
//   resumed from the server's offset after any interruption, fresh signed URLs, complete;
// - retention: the local copy of a confirmed upload removed once its time is up.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/attachment_intake.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/progress.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/upstream_client.hpp"

namespace fieldagent::sync {

// The defaults' reasons are in tuning.hpp. The agent's config sets chunkBytes,
// holdLargeUploadsWhenMetered and largeUploadBytes (uploads.* in docs/configuration.md).
struct UploadSettings {
  // Largest PATCH body; the slot's maxChunkBytes lowers it further.
  std::size_t chunkBytes = tuning::kUploadChunkBytes;
  bool sendChecksum = true;  // Upload-Checksum: sha256 on every PATCH
  // Bandwidth policy: uploads larger than largeUploadBytes wait while the link is metered or
  // down; JSON operations keep flowing.
  bool holdLargeUploadsWhenMetered = false;
  std::uint64_t largeUploadBytes = tuning::kLargeUploadBytes;
  // A signed URL this close to its expiry is renewed before use.
  std::chrono::seconds urlRenewMargin = tuning::kUploadUrlRenewMargin;
  // How long the local copy of a confirmed upload stays on the device.
  std::chrono::seconds retention = tuning::kUploadRetention;
  // Chunks in a row answered 460 before the send is given back to the pusher's back-off.
  int chunkChecksumRetries = tuning::kChunkChecksumRetries;
};

// What one tus pass came to: the server's offset, or the answer that stopped it.
struct TusProgress {
  std::uint64_t offset = 0;
  Answer<long long> stoppedBy;  // ok when every byte is on the server
};

// Sends `reader`'s bytes to an existing tus 1.0.0 resource at `url` from the server's offset
// (HEAD) to the end, in chunks of at most `chunkBytes`; `onProgress` hears every new offset.
// Works with any tus core server (no creation step: the resource exists).
TusProgress tusSend(UpstreamClient& client, const storage::AttachmentReader& reader, const std::string& url,
                    std::size_t chunkBytes, bool sendChecksum, int chunkChecksumRetries,
                    const std::function<void(std::uint64_t)>& onProgress);

class Uploader {
 public:
  // `connectivity` may be null (no bandwidth policy: everything is sent). `progress` hears the
  // bytes each upload plans and each chunk upstream acknowledges, from the pusher's lanes.
  Uploader(UpstreamClient& client, storage::Store& store, platform::Clock& clock,
           const platform::Connectivity* connectivity, UploadSettings settings = {},
           ProgressObserver& progress = ProgressObserver::none());

  // Registers send() as the pusher's attachment_upload handler.
  void attachTo(Pusher& pusher);

  // Uploads the attachment an attachment_upload operation names, as far as it can get now.
  // ok: the server confirmed it (value: attachmentId, uploadToken, sha256, sizeBytes). retry:
  // transport, 5xx, link held by the bandwidth policy ("waiting"); progress is kept. rejected:
  // the attachment is gone or broken locally, or its checksum failed twice (state "failed").
  SendResult send(const storage::OutboxOp& operation);

  // Removes the local copy of every confirmed upload whose retention is over at `now`; never
  // an unconfirmed one. Returns how many were removed.
  Result<int> sweepRetention(platform::WallTime now);

 private:
  struct Slot {
    std::size_t maxChunkBytes = 0;
  };
  Answer<json> renewUrl(const storage::AttachmentRecord& attachment);
  bool heldByPolicy(const storage::AttachmentRecord& attachment) const;
  std::size_t chunkFor(const std::string& attachmentId) const;
  void rememberSlot(const std::string& attachmentId, const json& upload);

  UpstreamClient& client_;
  storage::Store& store_;
  platform::Clock& clock_;
  const platform::Connectivity* connectivity_;
  UploadSettings settings_;
  ProgressObserver& progress_;
  mutable std::mutex mutex_;
  std::map<std::string, Slot> slots_;  // by local id; learned from the slot or a renewed URL
};

}  // namespace fieldagent::sync
