// Photos and signatures from capture to upstream: encrypted on disk, uploaded in checksummed tus
// chunks, renewed URLs, damaged chunks caught, large uploads held on a metered link, local copies
// kept until retention is over.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "error_code_checks.hpp"
#include "upload_rig.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::PatternSource;
using fieldagent::testing::TapAction;
using fieldagent::testing::UploadRig;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string uploadOpState(storage::Store& store, const std::string& workOrderId) {
  storage::OutboxFilter filter;
  filter.workOrderId = workOrderId;
  for (const auto& o : store.outbox().listOperations(filter).value()) {
    if (o.kind == op::kAttachmentUpload) return std::string(storage::toString(o.state)) + " " + o.lastError;
  }
  return "none";
}

}  // namespace

TEST_CASE("a captured photo is encrypted on disk and arrives upstream whole, checked chunk by chunk") {
  UploadRig rig({"--max-chunk-bytes", "262144"});
  const std::string marker = "CUSTOMER-SIGNATURE-PLAINTEXT-MARKER-0123456789";
  PatternSource source(3'000'000, 7, marker);
  const std::string id = rig.capturePhoto(std::ref(source));
  const std::string expected = source.sha256Hex();

  // Nothing under the data folder holds the plaintext.
  std::size_t filesLooked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(rig.f.dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++filesLooked;
    INFO(entry.path());
    CHECK(content.find(marker) == std::string::npos);
  }
  CHECK(filesLooked >= 2);

  REQUIRE(rig.drainAll() <= 3);
  auto att = rig.f.store->attachments().attachment(id).value();
  CHECK(att.state == storage::AttachmentState::confirmed);
  CHECK(att.uploadOffset == 3'000'000);
  // The slot's maxChunkBytes (256 KiB) beats the uploader's 1 MiB cap.
  CHECK(rig.tap.patches == 12);
  CHECK(rig.tap.patchBytes == 3'000'000);
  auto upstream = rig.upstreamAttachment(rig.workOrders[0], att.upstreamId);
  REQUIRE(upstream.is_object());
  CHECK(upstream["status"] == "available");
  CHECK(upstream["sha256"] == expected);
}

TEST_CASE("capture refuses an attachment over the size limit and keeps nothing of it") {
  UploadRig rig;
  PatternSource source(300'000, 3);
  storage::AttachmentSpec spec{rig.workOrders[0], "photo", "big.jpg", "image/jpeg", std::nullopt};
  auto captured = captureAttachment(*rig.f.store, *rig.capture, spec, std::ref(source), {100'000, 64u << 10});
  REQUIRE_FALSE(captured.ok());
  CHECK(captured.error().code == "payload_too_large");
  CHECK(captured.error().message.find("100000") != std::string::npos);
  CHECK(rig.f.store->attachments().attachmentBytesInUse() == 0);
  CHECK(rig.f.store->attachments().listAttachments(rig.workOrders[0]).value().empty());
  CHECK(rig.f.store->outbox().outboxCounts().value().byState[storage::OpState::pending] == 0);

  spec.expectedBytes = 200'000;
  auto announced = captureAttachment(*rig.f.store, *rig.capture, spec, std::ref(source), {100'000, 64u << 10});
  REQUIRE_FALSE(announced.ok());
  CHECK(announced.error().code == "payload_too_large");
}

TEST_CASE("capture refuses a kind or file name that cannot travel upstream and keeps nothing of it") {
  UploadRig rig;
  struct Case {
    std::string kind, fileName, expect;
  };
  for (const auto& c : std::vector<Case>{{"sketch", "a.png", "kind must be"},
                                         {"photo", "", "fileName is required"},
                                         {"photo", "../etc/passwd", "plain name"},
                                         {"photo", "a\\b.jpg", "plain name"},
                                         {"photo", "..", "plain name"},
                                         {"photo", std::string("a\nb.jpg"), "plain name"},
                                         {"photo", std::string(256, 'n'), "plain name"}}) {
    INFO(c.kind << " / " << c.fileName);
    PatternSource source(1000, 1);
    storage::AttachmentSpec spec{rig.workOrders[0], c.kind, c.fileName, "image/jpeg", std::nullopt};
    auto captured = captureAttachment(*rig.f.store, *rig.capture, spec, std::ref(source));
    REQUIRE_FALSE(captured.ok());
    CHECK(captured.error().code == "invalid");
    CHECK_THAT(captured.error().message, Catch::Contains(c.expect));
  }
  CHECK(rig.f.store->attachments().attachmentBytesInUse() == 0);
  CHECK(rig.f.store->attachments().listAttachments(rig.workOrders[0]).value().empty());
  CHECK(rig.f.store->outbox().outboxCounts().value().byState[storage::OpState::pending] == 0);
  // A plain name of 255 bytes is fine.
  PatternSource source(1000, 1);
  storage::AttachmentSpec ok{rig.workOrders[0], "document", std::string(251, 'n') + ".pdf", "application/pdf", std::nullopt};
  CHECK(captureAttachment(*rig.f.store, *rig.capture, ok, std::ref(source)).ok());
}

TEST_CASE("a signed URL that expires mid-way is renewed and the upload finishes from its offset") {
  UploadRig rig({"--upload-url-ttl", "120", "--max-chunk-bytes", "1048576"});
  PatternSource source(6u << 20, 11);
  const std::string id = rig.capturePhoto(std::ref(source));
  const std::string expected = source.sha256Hex();
  rig.tap.decide = [&](const platform::HttpRequest&, int patch) {
    // After the third chunk the simulator's clock jumps past the URL's expiry.
    if (patch == 4) REQUIRE(rig.f.sim.admin("POST", "/clock", json{{"shiftSeconds", 600}}).status == 200);
    return TapAction{};
  };
  REQUIRE(rig.drainAll() <= 3);
  auto att = rig.f.store->attachments().attachment(id).value();
  REQUIRE(att.state == storage::AttachmentState::confirmed);
  CHECK(rig.tap.expiredAnswers == 1);
  CHECK(rig.tap.renewals == 1);
  // Nothing was sent twice: the PATCH refused for its URL carried no bytes into the upload,
  // and the rest went from offset 3 MiB.
  CHECK(rig.tap.patchBytes == (6u << 20) + (1u << 20));
  CHECK(rig.upstreamAttachment(rig.workOrders[0], att.upstreamId)["sha256"] == expected);
}

TEST_CASE("a bare 403 on the upload URL is read as an expired URL: renewed, and the upload finishes") {
  UploadRig rig({"--max-chunk-bytes", "1048576"});
  PatternSource source(3u << 20, 5);
  const std::string id = rig.capturePhoto(std::ref(source));
  bool refused = false;
  rig.tap.decide = [&](const platform::HttpRequest&, int patch) {
    if (patch != 2 || refused) return TapAction{};
    refused = true;
    return TapAction{TapAction::bareForbidden};
  };
  REQUIRE(rig.drainAll() <= 3);
  CHECK(refused);
  auto att = rig.f.store->attachments().attachment(id).value();
  CHECK(att.state == storage::AttachmentState::confirmed);
  CHECK(rig.tap.renewals == 1);
  CHECK(rig.upstreamAttachment(rig.workOrders[0], att.upstreamId)["sha256"] == source.sha256Hex());
}

TEST_CASE("a URL past its stored expiry is renewed before any byte goes out") {
  UploadRig rig({"--upload-url-ttl", "120"});
  PatternSource source(100'000, 5);
  const std::string id = rig.capturePhoto(std::ref(source));
  // Take the slot, then be cut off before the first chunk.
  rig.tap.decide = [](const platform::HttpRequest& r, int) {
    return r.method == "HEAD" ? TapAction{TapAction::cutAnswer, 0} : TapAction{};
  };
  REQUIRE(rig.pusher->drain().ok());
  auto held = rig.f.store->attachments().attachment(id).value();
  REQUIRE(held.uploadUrlExpiresAt.has_value());
  CHECK(rig.tap.renewals == 0);
  rig.tap.decide = nullptr;
  rig.f.clock.advance(10min);  // past the stored expiry
  REQUIRE(rig.drainAll() <= 3);
  CHECK(rig.tap.renewals == 1);
  CHECK(rig.tap.expiredAnswers == 0);
  CHECK(rig.f.store->attachments().attachment(id).value().state == storage::AttachmentState::confirmed);
}

TEST_CASE("a chunk damaged on the way is caught by its checksum and sent again") {
  UploadRig rig({"--max-chunk-bytes", "262144"});
  PatternSource source(1'000'000, 21);
  const std::string id = rig.capturePhoto(std::ref(source));
  const std::string expected = source.sha256Hex();
  rig.tap.decide = [](const platform::HttpRequest&, int patch) {
    return patch == 2 ? TapAction{TapAction::flipByte, 0} : TapAction{};
  };
  REQUIRE(rig.drainAll() <= 3);
  auto att = rig.f.store->attachments().attachment(id).value();
  REQUIRE(att.state == storage::AttachmentState::confirmed);
  CHECK(rig.tap.checksumRejections == 1);
  CHECK(rig.tap.patchBytes == 1'000'000 + 262'144);
  CHECK(rig.upstreamAttachment(rig.workOrders[0], att.upstreamId)["sha256"] == expected);
}

TEST_CASE("without per-chunk checksums complete catches the damage: one restart from zero, then parked") {
  UploadSettings settings;
  settings.sendChecksum = false;
  settings.chunkBytes = 256u << 10;

  SECTION("damage once: the restart delivers the right bytes") {
    UploadRig rig({}, settings);
    PatternSource source(700'000, 31);
    const std::string id = rig.capturePhoto(std::ref(source));
    const std::string expected = source.sha256Hex();
    rig.tap.decide = [](const platform::HttpRequest&, int patch) {
      return patch == 2 ? TapAction{TapAction::flipByte, 0} : TapAction{};
    };
    REQUIRE(rig.drainAll() <= 3);
    auto att = rig.f.store->attachments().attachment(id).value();
    REQUIRE(att.state == storage::AttachmentState::confirmed);
    CHECK(rig.tap.patchBytes == 2 * 700'000);
    CHECK(rig.upstreamAttachment(rig.workOrders[0], att.upstreamId)["sha256"] == expected);
  }

  SECTION("damage every time: parked with a clear reason") {
    UploadRig rig({}, settings);
    PatternSource source(300'000, 41);
    const std::string id = rig.capturePhoto(std::ref(source), 0, "signature");
    rig.tap.decide = [](const platform::HttpRequest&, int patch) {
      return patch > 0 ? TapAction{TapAction::flipByte, 0} : TapAction{};
    };
    rig.drainAll(6);
    auto att = rig.f.store->attachments().attachment(id).value();
    CHECK(att.state == storage::AttachmentState::failed);
    CHECK(att.lastError.find("checksum_mismatch twice") != std::string::npos);
    const std::string state = uploadOpState(*rig.f.store, rig.workOrders[0]);
    CHECK(state.rfind("rejected", 0) == 0);
    CHECK(state.find("checksum_mismatch") != std::string::npos);
  }
}

TEST_CASE("large uploads wait while the link is metered, JSON operations keep flowing") {
  platform::FakeConnectivity link({true, true, "wwan0"});
  UploadSettings settings;
  settings.holdLargeUploadsWhenMetered = true;
  settings.largeUploadBytes = 1u << 20;
  UploadRig rig({}, settings, &link);
  PatternSource big(3u << 20, 51);
  const std::string id = rig.capturePhoto(std::ref(big), 0);
  PatternSource small(20'000, 52);
  const std::string signature = rig.capturePhoto(std::ref(small), 1, "signature");

  REQUIRE(rig.pusher->drain().ok());
  CHECK(rig.tap.patches == 1);  // the small signature only
  CHECK(rig.f.store->attachments().attachment(signature).value().state == storage::AttachmentState::confirmed);
  auto waiting = rig.f.store->attachments().attachment(id).value();
  CHECK(waiting.state == storage::AttachmentState::stored);
  const std::string state = uploadOpState(*rig.f.store, rig.workOrders[0]);
  CHECK(state.rfind("pending", 0) == 0);
  CHECK(state.find("metered") != std::string::npos);

  link.set({true, false, "wlan0"});
  REQUIRE(rig.drainAll() <= 3);
  CHECK(rig.f.store->attachments().attachment(id).value().state == storage::AttachmentState::confirmed);
}

TEST_CASE("a confirmed upload's local copy stays for the retention, then goes, an unconfirmed one never") {
  UploadSettings settings;
  settings.retention = 48h;
  UploadRig rig({}, settings);
  PatternSource first(50'000, 61);
  const std::string sent = rig.capturePhoto(std::ref(first), 0);
  REQUIRE(rig.drainAll() <= 3);
  // Captured after the drain and never sent: still only on this device.
  PatternSource second(50'000, 62);
  const std::string kept = rig.capturePhoto(std::ref(second), 1);
  REQUIRE(rig.f.store->attachments().attachment(sent).value().state == storage::AttachmentState::confirmed);

  CHECK(rig.uploader->sweepRetention(rig.f.clock.now() + 47h).value() == 0);
  CHECK(rig.f.store->attachments().openAttachment(sent).ok());

  rig.f.clock.advance(49h);
  CHECK(rig.uploader->sweepRetention(rig.f.clock.now()).value() == 1);
  auto purged = rig.f.store->attachments().attachment(sent).value();
  CHECK_FALSE(purged.bytesOnDevice);
  auto gone = rig.f.store->attachments().openAttachment(sent);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == "gone");

  rig.f.clock.advance(24h * 365);
  CHECK(rig.uploader->sweepRetention(rig.f.clock.now()).value() == 0);
  CHECK(rig.f.store->attachments().attachment(kept).value().bytesOnDevice);
  CHECK(rig.f.store->attachments().openAttachment(kept).ok());
}

