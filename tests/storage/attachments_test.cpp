#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "error_code_checks.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::StoreFixture;

namespace {

std::string photoBytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// Streams `bytes` in uneven pieces, as a multipart body arrives.
FinishedAttachment capture(StoreFixture& f, const std::string& bytes, AttachmentSpec spec = {}) {
  if (spec.workOrderId.empty()) spec = {"wo_1", "photo", "failed-fan.jpg", "image/jpeg", std::nullopt};
  auto writer = f.store->attachments().beginAttachment(spec);
  REQUIRE(writer.ok());
  std::size_t at = 0, step = 1;
  while (at < bytes.size()) {
    const std::size_t n = std::min(bytes.size() - at, step);
    REQUIRE(writer->append(std::string_view(bytes).substr(at, n)).ok());
    at += n;
    step = step * 7 % 40000 + 1;
  }
  auto done = writer->finish();
  REQUIRE(done.ok());
  return std::move(done).value();
}

LocalWriteResult record(StoreFixture& f, const FinishedAttachment& att) {
  LocalWrite write;
  write.workOrderId = att.spec.workOrderId;
  write.attachments.push_back(att);
  write.operations.push_back({"attachment_upload", {{"attachmentId", att.id}}, "", {}, {}});
  auto r = f.store->localWrites().applyLocalWrite(write);
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::string fileBytes(const std::filesystem::path& p) {
  auto r = platform::fs::readFile(p, 1u << 30);
  REQUIRE(r.ok());
  return std::move(r).value();
}

void overwrite(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::size_t filesIn(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("an attachment is streamed to disk encrypted and any byte range reads back", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  const std::string photo = photoBytes(3 * 65536 + 1234, 7);
  const auto att = capture(f, photo);
  CHECK(att.sizeBytes == photo.size());
  CHECK(att.sha256 == platform::hexEncode(platform::sha256(photo)));
  record(f, att);
  f.reopen();

  auto meta = f.store->attachments().attachment(att.id);
  REQUIRE(meta.ok());
  CHECK(meta->state == AttachmentState::stored);
  CHECK(meta->sha256 == att.sha256);
  CHECK(meta->fileName == "failed-fan.jpg");
  CHECK(f.store->attachments().listAttachments("wo_1")->size() == 1);

  auto reader = f.store->attachments().openAttachment(att.id);
  REQUIRE(reader.ok());
  CHECK(reader->size() == photo.size());
  CHECK(*reader->read(0, photo.size()) == photo);
  CHECK(*reader->read(65530, 20) == photo.substr(65530, 20));                // across a chunk boundary
  CHECK(*reader->read(2 * 65536, 65536) == photo.substr(2 * 65536, 65536));  // exactly one chunk
  CHECK(*reader->read(photo.size() - 5, 100) == photo.substr(photo.size() - 5));
  CHECK(reader->read(photo.size(), 10)->empty());

  // What is on disk is not the photo: no 64-byte run of it appears in the file.
  const std::string onDisk = fileBytes(f.store->attachmentsDir() / (att.id + ".att"));
  for (std::size_t at : {std::size_t{0}, std::size_t{70000}, photo.size() - 64}) {
    CHECK(onDisk.find(photo.substr(at, 64)) == std::string::npos);
  }
}

TEST_CASE("an empty attachment is stored and read back empty", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  const auto att = capture(f, "");
  record(f, att);
  auto reader = f.store->attachments().openAttachment(att.id);
  REQUIRE(reader.ok());
  CHECK(reader->size() == 0);
  CHECK(reader->read(0, 10)->empty());
}

TEST_CASE("an altered, reordered or cut attachment file is caught, not returned", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  const std::string photo = photoBytes(3 * 65536 + 100, 11);
  const auto att = capture(f, photo);
  record(f, att);
  const auto path = f.store->attachmentsDir() / (att.id + ".att");
  const std::string good = fileBytes(path);
  const std::size_t header = 40, sealedChunk = 65536 + 16;

  SECTION("one flipped bit") {
    std::string bad = good;
    bad[header + sealedChunk + 99] ^= 0x01;
    overwrite(path, bad);
    auto reader = f.store->attachments().openAttachment(att.id);
    REQUIRE(reader.ok());
    CHECK(reader->read(0, 100).ok());  // chunk 0 is intact
    auto r = reader->read(65536, 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "corrupt");
  }
  SECTION("two chunks swapped") {
    std::string bad = good;
    bad.replace(header, sealedChunk, good.substr(header + sealedChunk, sealedChunk));
    bad.replace(header + sealedChunk, sealedChunk, good.substr(header, sealedChunk));
    overwrite(path, bad);
    auto reader = f.store->attachments().openAttachment(att.id);
    REQUIRE(reader.ok());
    CHECK(reader->read(0, 10).error().code == "corrupt");
  }
  SECTION("cut at a chunk boundary, with the recorded size changed to match") {
    overwrite(path, good.substr(0, header + 2 * sealedChunk));
    {
      fieldagent::testing::RawDb raw(f.store->databasePath());
      raw.exec("UPDATE attachments SET size_bytes = 131072");
    }
    auto reader = f.store->attachments().openAttachment(att.id);
    REQUIRE(reader.ok());
    CHECK(reader->read(65536, 10).error().code == "corrupt");  // the new last chunk was not sealed as last
  }
  SECTION("cut inside a chunk") {
    overwrite(path, good.substr(0, good.size() - 7));
    CHECK(f.store->attachments().openAttachment(att.id).error().code == "corrupt");
  }
  SECTION("another attachment's file put in its place") {
    const auto other = capture(f, photo);
    record(f, other);
    std::filesystem::copy_file(f.store->attachmentsDir() / (other.id + ".att"), path,
                               std::filesystem::copy_options::overwrite_existing);
    auto reader = f.store->attachments().openAttachment(att.id);
    REQUIRE(reader.ok());
    CHECK(reader->read(0, 10).error().code == "corrupt");
  }
}

TEST_CASE("file names on disk come from the store's ids, never from the app's file name", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  const auto att = capture(f, "signature strokes", {"wo_1", "signature", "../../../etc/passwd", "image/png", {}});
  record(f, att);
  CHECK(att.id.rfind("la_", 0) == 0);
  CHECK(std::filesystem::exists(f.store->attachmentsDir() / (att.id + ".att")));
  CHECK(filesIn(f.store->attachmentsDir()) == 1);
  CHECK(f.store->attachments().attachment(att.id)->fileName == "../../../etc/passwd");  // kept as metadata only
  CHECK(f.store->attachments().attachment("../../x").error().code == "not_found");
}

TEST_CASE("the attachment quota refuses with the sizes named and leaves nothing behind", "[attachments][quota]") {
  StoreFixture f(200'000);
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  record(f, capture(f, photoBytes(120'000, 1)));

  auto early = f.store->attachments().beginAttachment({"wo_1", "photo", "big.jpg", "image/jpeg", 100'000});
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().code == "quota_exceeded");
  CHECK(early.error().message.find("200000") != std::string::npos);
  CHECK(early.error().message.find("120000") != std::string::npos);

  auto writer = f.store->attachments().beginAttachment({"wo_1", "photo", "big.jpg", "image/jpeg", std::nullopt});
  REQUIRE(writer.ok());
  REQUIRE(writer->append(photoBytes(70'000, 2)).ok());
  auto over = writer->append(photoBytes(20'000, 3));
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == "quota_exceeded");
  CHECK(over.error().message.find("210000") != std::string::npos);
  CHECK(writer->finish().error().code == "io");  // a refused writer is spent
  CHECK(filesIn(f.store->attachmentsDir()) == 1);
  CHECK(f.store->attachments().attachmentBytesInUse() == 120'000);
}

TEST_CASE("an unfinished capture leaves nothing, a file no write recorded is swept at open", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  {
    auto writer = f.store->attachments().beginAttachment({"wo_1", "photo", "a.jpg", "image/jpeg", std::nullopt});
    REQUIRE(writer.ok());
    REQUIRE(writer->append(photoBytes(100'000, 4)).ok());
  }  // the app hung up mid-upload
  CHECK(filesIn(f.store->attachmentsDir()) == 0);
  CHECK(f.store->attachments().attachmentBytesInUse() == 0);

  const auto orphan = capture(f, photoBytes(1000, 5));  // finished, but the agent died before recording it
  CHECK(filesIn(f.store->attachmentsDir()) == 1);
  f.reopen();
  CHECK(filesIn(f.store->attachmentsDir()) == 0);
  LocalWrite late;
  late.workOrderId = "wo_1";
  late.attachments.push_back(orphan);
  late.operations.push_back({"attachment_upload", {{"attachmentId", orphan.id}}, "", {}, {}});
  CHECK(f.store->localWrites().applyLocalWrite(late).error().code == "invalid");
}

TEST_CASE("upload progress is kept, local bytes go only after upstream confirmed them", "[attachments]") {
  StoreFixture f;
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  const std::string photo = photoBytes(5000, 9);
  const auto att = capture(f, photo);
  record(f, att);
  CHECK(f.store->attachments().attachmentBytesInUse() == 5000);

  AttachmentUploadUpdate slot;
  slot.state = AttachmentState::uploading;
  slot.upstreamId = "att_1";
  slot.uploadToken = "upl_7fa223";
  slot.uploadUrl = "https://upload.example/tus/abc?sig=1";
  slot.uploadUrlExpiresAt = f.clock.now() + std::chrono::minutes(15);
  REQUIRE(f.store->attachments().updateAttachmentUpload(att.id, slot).ok());
  AttachmentUploadUpdate progress;
  progress.uploadOffset = 4096;
  REQUIRE(f.store->attachments().updateAttachmentUpload(att.id, progress).ok());
  f.reopen();
  auto meta = f.store->attachments().attachment(att.id);
  CHECK(meta->state == AttachmentState::uploading);
  CHECK(meta->uploadOffset == 4096);
  CHECK(meta->uploadToken == "upl_7fa223");
  CHECK(meta->upstreamId == "att_1");
  CHECK(*meta->uploadUrlExpiresAt == f.clock.now() + std::chrono::minutes(15));
  CHECK(*f.store->attachments().openAttachment(att.id)->read(meta->uploadOffset, 10000) == photo.substr(4096));

  AttachmentUploadUpdate past;
  past.uploadOffset = 5001;
  CHECK(f.store->attachments().updateAttachmentUpload(att.id, past).error().code == "invalid");

  CHECK(f.store->attachments().purgeAttachmentBytes(att.id).error().code == "not_confirmed");
  AttachmentUploadUpdate confirmed;
  confirmed.state = AttachmentState::confirmed;
  REQUIRE(f.store->attachments().updateAttachmentUpload(att.id, confirmed).ok());
  REQUIRE(f.store->attachments().purgeAttachmentBytes(att.id).ok());
  CHECK(f.store->attachments().openAttachment(att.id).error().code == "gone");
  CHECK(filesIn(f.store->attachmentsDir()) == 0);
  CHECK(f.store->attachments().attachmentBytesInUse() == 0);
  meta = f.store->attachments().attachment(att.id);
  CHECK(meta->confirmedAt.has_value());
  CHECK_FALSE(meta->bytesOnDevice);
}
