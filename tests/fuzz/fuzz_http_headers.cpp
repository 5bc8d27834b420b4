// Fuzz target: the HTTP and tus header values the agent reads from upstream and the upload
// server, and the tus conversation built on them.
//
// Input: one letter choosing what is fuzzed, then its text.
//   a  Retry-After value (delta-seconds or IMF-fixdate)        -> sync::parseRetryAfter
//   b  an ISO 8601 time (upload URL expiresAt, API times)       -> platform::parseIso8601
//   c  a URL (signed upload URL, Location, download URL)        -> platform::splitUrl
//   d  base64 / hex / base32 text (Upload-Checksum, TOTP)       -> platform::*Decode
//   e  tus answers to HEAD and PATCH (Upload-Offset, 409, 460,   -> sync::tusSend over a stored
//      Retry-After, Date ...), raw HTTP responses split by "%%"    3000-byte attachment
//   g  an HTTP date (Date, Last-Modified; three forms)          -> platform::parseHttpDate
//   h  a base URL (upstream.baseUrl, the agent's API URL)       -> platform::parseBaseUrl
//   f  the whole upload: slot (upload.url, expiresAt,            -> sync::Uploader::send
//      maxChunkBytes), tus HEAD/PATCH, complete, as raw HTTP
//      responses split by "%%"
#include <chrono>
#include <memory>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/answer.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/uploader.hpp"
#include "fieldagent/sync/upstream_client.hpp"
#include "fuzz_support.hpp"

using namespace fieldagent;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kAttachmentBytes = 3000;

// One store with one recorded 3000-byte attachment and its attachment_upload operation, made
// once per fuzzer process.
struct World {
  fuzz::ScratchCleanup cleanup{fuzz::scratchDir("headers")};
  platform::FakeClock clock;
  fuzz::CountingEntropy entropy;
  platform::FileKeyStore keys{cleanup.dir / "data.key", entropy};
  std::unique_ptr<storage::Store> store;
  std::string attachmentId;
  storage::OutboxOp operation;

  World() {
    auto opened = storage::Store::open({cleanup.dir, 1ull << 30, storage::Durability::normal}, clock, entropy, keys);
    FUZZ_CHECK(opened.ok());
    store = std::move(opened).value();
    FUZZ_CHECK(store->workOrders().upsertWorkOrder({{{"workOrderId", "WO-1"}, {"status", "open"}}, "\"1\""}).ok());
    auto writer = store->attachments().beginAttachment({"WO-1", "photo", "a.jpg", "image/jpeg", std::nullopt});
    FUZZ_CHECK(writer.ok());
    std::string bytes(kAttachmentBytes, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
    FUZZ_CHECK(writer->append(bytes).ok());
    auto finished = writer->finish();
    FUZZ_CHECK(finished.ok());
    attachmentId = finished->id;
    storage::LocalWrite write;
    write.workOrderId = "WO-1";
    write.attachments.push_back(*finished);
    write.operations.push_back({"attachment_upload", {{"attachmentId", attachmentId}}, "", {}, {}});
    auto recorded = store->localWrites().applyLocalWrite(write);
    FUZZ_CHECK(recorded.ok());
    auto ops = store->outbox().listOperations({});
    FUZZ_CHECK(ops.ok() && !ops->empty());
    operation = ops->front();
  }

  // Back to "captured, never sent" before each upload conversation.
  void resetUpload() {
    storage::AttachmentUploadUpdate u;
    u.state = storage::AttachmentState::stored;
    u.uploadOffset = 0;
    u.uploadToken = "";
    u.upstreamId = "";
    u.uploadUrl = "";
    u.lastError = "";
    FUZZ_CHECK(store->attachments().updateAttachmentUpload(attachmentId, u).ok());
  }
};

World* world = nullptr;

void retryAfter(const std::string& value) {
  const platform::WallTime now{std::chrono::seconds{1'800'000'000}};
  auto delay = sync::parseRetryAfter(value, now);
  if (delay) {
    FUZZ_CHECK(delay->count() >= 0);
    FUZZ_CHECK(*delay <= sync::tuning::kMaxRetryAfter);
  }
}

void iso8601(const std::string& text) {
  platform::WallTime t;
  if (!platform::parseIso8601(text, t)) return;
  // What the agent writes of a time it read, it must read back as the same second.
  const std::string written = platform::formatIso8601(t);
  platform::WallTime again;
  FUZZ_CHECK(platform::parseIso8601(written, again));
  FUZZ_CHECK(std::chrono::floor<std::chrono::seconds>(t) == again);
}

void url(const std::string& text) {
  auto split = platform::splitUrl(text);
  if (!split) {
    FUZZ_CHECK(split.error().code == "bad_url");
    return;
  }
  const auto& [origin, target] = *split;
  FUZZ_CHECK(origin.scheme == "http" || origin.scheme == "https");
  FUZZ_CHECK(!origin.host.empty());
  FUZZ_CHECK(!target.empty() && target.front() == '/');  // an HTTP request target
}

void encodings(const std::string& text) {
  if (auto b = platform::base64Decode(text)) FUZZ_CHECK(platform::base64Decode(platform::base64Encode(*b)) == *b);
  if (auto h = platform::hexDecode(text)) FUZZ_CHECK(platform::hexDecode(platform::hexEncode(*h)) == *h);
  if (auto b = platform::base32Decode(text)) FUZZ_CHECK(platform::base32Decode(platform::base32Encode(*b)) == *b);
}

void httpDate(const std::string& text) {
  auto t = platform::parseHttpDate(text);
  if (!t) return;
  // A date it accepts is one the rest of the agent can write and read back.
  platform::WallTime again;
  FUZZ_CHECK(platform::parseIso8601(platform::formatIso8601(*t), again));
  FUZZ_CHECK(again == std::chrono::floor<std::chrono::seconds>(*t));
}

void baseUrl(const std::string& text) {
  auto base = platform::parseBaseUrl(text);
  if (!base) {
    FUZZ_CHECK(!base.error().message.empty());
    return;
  }
  FUZZ_CHECK(base->scheme == "http" || base->scheme == "https");
  FUZZ_CHECK(!base->host.empty() && base->port != 0);
  FUZZ_CHECK(base->pathPrefix.empty() || (base->pathPrefix.front() == '/' && base->pathPrefix.back() != '/'));
  (void)base->loopback();
  // What it prints reads back as the same URL.
  auto again = platform::parseBaseUrl(base->toString());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->toString() == base->toString());
}

void tus(const std::string& script, std::size_t chunk) {
  fuzz::ScriptedExchange http;
  http.script(fuzz::sections(script));
  sync::UpstreamClient client({"https://upstream.example/integrations/int_1", "t"}, http, world->clock);
  auto reader = world->store->attachments().openAttachment(world->attachmentId);
  FUZZ_CHECK(reader.ok());
  std::uint64_t last = 0;
  int heard = 0;
  auto progress = sync::tusSend(client, *reader, "https://uploads.example/files/abc?sig=1", chunk, true, 2,
                                [&](std::uint64_t offset) {
                                  FUZZ_CHECK(offset <= kAttachmentBytes);
                                  last = offset;
                                  ++heard;
                                });
  FUZZ_CHECK(progress.offset <= kAttachmentBytes);
  if (heard > 0) FUZZ_CHECK(progress.offset == last);
  if (progress.stoppedBy.ok()) FUZZ_CHECK(progress.offset == kAttachmentBytes);
}

void upload(const std::string& script) {
  world->resetUpload();
  fuzz::ScriptedExchange http;
  http.script(fuzz::sections(script));
  sync::UpstreamClient client({"https://upstream.example/integrations/int_1", "t"}, http, world->clock);
  sync::UploadSettings settings;
  settings.chunkBytes = 1024;
  sync::Uploader uploader(client, *world->store, world->clock, nullptr, settings);
  auto result = uploader.send(world->operation);
  auto record = world->store->attachments().attachment(world->attachmentId);
  FUZZ_CHECK(record.ok());
  FUZZ_CHECK(record->uploadOffset <= kAttachmentBytes);
  if (result.answer.ok()) {
    // Confirmed only after every byte went up and upstream accepted the file.
    FUZZ_CHECK(record->state == storage::AttachmentState::confirmed);
    FUZZ_CHECK(!record->upstreamId.empty());
  } else {
    FUZZ_CHECK(record->state != storage::AttachmentState::confirmed);
  }
  FUZZ_CHECK(record->bytesOnDevice);  // an upload never loses the local copy
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quietLogs();
  world = new World();  // lives as long as the process; its destructor would race libFuzzer's exit
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const char mode = static_cast<char>(data[0]);
  std::string_view rest = fuzz::asText(data + 1, size - 1);
  if (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
  const std::string text(rest);
  switch (mode) {
    case 'a': retryAfter(text); break;
    case 'b': iso8601(text); break;
    case 'c': url(text); break;
    case 'd': encodings(text); break;
    case 'e': {
      // The second byte picks the chunk size: 1..256 bytes, so a few sections go a long way.
      const std::size_t chunk = text.empty() ? 1000 : 1 + static_cast<unsigned char>(text[0]);
      tus(text.empty() ? text : text.substr(1), chunk);
      break;
    }
    case 'f': upload(text); break;
    case 'g': httpDate(text); break;
    case 'h': baseUrl(text); break;
    default: {
      // Anything else: every parser gets the text.
      retryAfter(text);
      iso8601(text);
      url(text);
      encodings(text);
      httpDate(text);
      baseUrl(text);
      break;
    }
  }
  return 0;
}
