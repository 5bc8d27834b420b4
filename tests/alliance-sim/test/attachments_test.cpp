// Attachments: slots, tus upload with checksums, signed URL expiry and tampering, completion
// with SHA-256, signed downloads, and the upload as a consumption's signature.
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "sim_fixture.hpp"

using namespace fieldagent::testing;
namespace platform = fieldagent::platform;

namespace {

std::string photoBytes(std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
  return bytes;
}

json slotFor(const std::string& bytes, const std::string& kind = "photo") {
  return {{"kind", kind},
          {"fileName", "compressor.jpg"},
          {"contentType", "image/jpeg"},
          {"sizeBytes", bytes.size()},
          {"sha256", platform::hexEncode(platform::sha256(bytes))},
          {"capturedAt", "2026-01-21T15:10:00Z"}};
}

HttpResponse tusHead(const std::string& url) { return httpCall("HEAD", url, "", {{"Tus-Resumable", "1.0.0"}}); }

HttpResponse tusPatch(const std::string& url, std::int64_t offset, const std::string& chunk,
                      const std::string& checksumOf = "") {
  std::map<std::string, std::string> headers = {{"Tus-Resumable", "1.0.0"},
                                                {"Content-Type", "application/offset+octet-stream"},
                                                {"Upload-Offset", std::to_string(offset)}};
  if (!checksumOf.empty())
    headers["Upload-Checksum"] = "sha256 " + platform::base64Encode(platform::sha256(checksumOf));
  return httpCall("PATCH", url, chunk, headers);
}

struct Slot {
  std::string attachmentId;
  std::string uploadToken;
  std::string url;
};

Slot openSlot(RunningSim& s, const std::string& bytes, const std::string& workOrder = "wo_1f92a0",
              const std::string& kind = "photo") {
  HttpResponse r = s.post("/work-orders/" + workOrder + "/attachments", s.technician, slotFor(bytes, kind));
  REQUIRE(r.status == 201);
  const json body = r.json();
  return {body["attachmentId"], body["uploadToken"], body["upload"]["url"]};
}

std::string withQueryValue(std::string url, const std::string& name, const std::string& value) {
  const auto start = url.find(name + "=") + name.size() + 1;
  auto end = url.find('&', start);
  if (end == std::string::npos) end = url.size();
  return url.replace(start, end - start, value);
}

}  // namespace

TEST_CASE("an attachment goes from slot through tus chunks to complete, download and signature", "[attachments]") {
  RunningSim s;
  const std::string bytes = photoBytes(3000);
  HttpResponse created = s.post("/work-orders/wo_1f92a0/attachments", s.technician, slotFor(bytes, "signature"));
  REQUIRE(created.status == 201);
  const json slot = created.json();
  CHECK(slot["attachmentId"].get<std::string>().rfind("att_", 0) == 0);
  CHECK(slot["uploadToken"].get<std::string>().rfind("upl_", 0) == 0);
  CHECK(slot["upload"]["protocol"] == "tus");
  CHECK(slot["upload"]["maxChunkBytes"].get<int>() > 0);
  CHECK(slot["upload"]["expiresAt"].is_string());
  const std::string url = slot["upload"]["url"];
  CHECK(url.find("signature=") != std::string::npos);
  CHECK(url.find("expires=") != std::string::npos);

  HttpResponse head = tusHead(url);
  CHECK(head.status == 200);
  CHECK(head.header("Upload-Offset") == "0");
  CHECK(head.header("Upload-Length") == "3000");
  CHECK(head.header("Tus-Resumable") == "1.0.0");

  // A consumption cannot name the upload before it is complete.
  json consumption = seedConsumption();
  consumption["customerSignature"]["signatureToken"] = slot["uploadToken"];
  CHECK(s.post("/work-orders/wo_1f92a0/consumptions", s.technician, consumption).json()["error"] == "unknown_upload");

  HttpResponse part1 = tusPatch(url, 0, bytes.substr(0, 1200), bytes.substr(0, 1200));
  CHECK(part1.status == 204);
  CHECK(part1.header("Upload-Offset") == "1200");
  HttpResponse early =
      s.post("/work-orders/wo_1f92a0/attachments/" + slot["attachmentId"].get<std::string>() + "/complete",
             s.technician, json::object());
  CHECK(early.status == 409);
  CHECK(early.json()["error"] == "upload_incomplete");
  CHECK(early.json()["details"]["offset"] == 1200);

  HttpResponse part2 = tusPatch(url, 1200, bytes.substr(1200));  // no checksum: optional
  CHECK(part2.status == 204);
  CHECK(tusHead(url).header("Upload-Offset") == "3000");

  const std::string completePath =
      "/work-orders/wo_1f92a0/attachments/" + slot["attachmentId"].get<std::string>() + "/complete";
  HttpResponse done = s.post(completePath, s.technician, json::object());
  REQUIRE(done.status == 200);
  CHECK(done.json()["status"] == "available");
  CHECK(done.json()["sizeBytes"] == 3000);
  CHECK(done.json()["sha256"] == platform::hexEncode(platform::sha256(bytes)));

  json list = s.get("/work-orders/wo_1f92a0/attachments", s.technician).json();
  const auto it = std::find_if(list["items"].begin(), list["items"].end(),
                               [&](const json& a) { return a["attachmentId"] == slot["attachmentId"]; });
  REQUIRE(it != list["items"].end());
  CHECK((*it)["status"] == "available");
  CHECK((*it)["kind"] == "signature");
  CHECK((*it)["fileName"] == "compressor.jpg");
  const std::string downloadUrl = (*it)["downloadUrl"];
  HttpResponse downloaded = httpCall("GET", downloadUrl);
  CHECK(downloaded.status == 200);
  CHECK(downloaded.body == bytes);
  CHECK(downloaded.header("Content-Type") == "image/jpeg");

  HttpResponse recorded = s.post("/work-orders/wo_1f92a0/consumptions", s.technician, consumption);
  CHECK(recorded.status == 201);
}

TEST_CASE("tus refuses a wrong offset (409) and a chunk that fails its checksum (460), keeping nothing",
          "[attachments]") {
  RunningSim s;
  const std::string bytes = photoBytes(2000);
  const Slot slot = openSlot(s, bytes);
  REQUIRE(tusPatch(slot.url, 0, bytes.substr(0, 500)).status == 204);

  HttpResponse wrongOffset = tusPatch(slot.url, 0, bytes.substr(0, 500));
  CHECK(wrongOffset.status == 409);
  CHECK(wrongOffset.header("Upload-Offset") == "500");

  std::string corrupted = bytes.substr(500, 500);
  corrupted[10] ^= 0x20;
  HttpResponse mismatch = tusPatch(slot.url, 500, corrupted, bytes.substr(500, 500));
  CHECK(mismatch.status == 460);
  CHECK(mismatch.json()["error"] == "checksum_mismatch");
  CHECK(tusHead(slot.url).header("Upload-Offset") == "500");

  HttpResponse noVersion = httpCall("HEAD", slot.url);
  CHECK(noVersion.status == 412);
  HttpResponse wrongType =
      httpCall("PATCH", slot.url, "x",
               {{"Tus-Resumable", "1.0.0"}, {"Upload-Offset", "500"}, {"Content-Type", "application/json"}});
  CHECK(wrongType.status == 415);
  HttpResponse tooFar = tusPatch(slot.url, 500, std::string(1600, 'x'));
  CHECK(tooFar.status == 413);
  CHECK(tusHead(slot.url).header("Upload-Offset") == "500");
}

TEST_CASE("complete with bytes that do not hash to the declared SHA-256 is 422 and resets to offset 0",
          "[attachments]") {
  RunningSim s;
  const std::string bytes = photoBytes(1000);
  const Slot slot = openSlot(s, bytes);
  std::string other = bytes;
  other[999] ^= 0x01;
  REQUIRE(tusPatch(slot.url, 0, other).status == 204);
  const std::string complete = "/work-orders/wo_1f92a0/attachments/" + slot.attachmentId + "/complete";
  HttpResponse r = s.post(complete, s.technician, json::object());
  CHECK(r.status == 422);
  CHECK(r.json()["error"] == "checksum_mismatch");
  CHECK(tusHead(slot.url).header("Upload-Offset") == "0");

  REQUIRE(tusPatch(slot.url, 0, bytes).status == 204);
  CHECK(s.post(complete, s.technician, json::object()).status == 200);
  CHECK(s.post(complete, s.technician, json::object()).status == 200);  // completing twice is harmless
}

TEST_CASE("signed upload URLs refuse tampering and expiry - a refreshed URL resumes at the stored offset",
          "[attachments]") {
  RunningSim s({"--seed", "5", "--upload-url-ttl", "300"});
  const std::string bytes = photoBytes(1500);
  const Slot slot = openSlot(s, bytes);
  REQUIRE(tusPatch(slot.url, 0, bytes.substr(0, 700)).status == 204);

  std::string tamperedSig = slot.url;
  tamperedSig[tamperedSig.size() - 1] = tamperedSig.back() == 'a' ? 'b' : 'a';
  CHECK(tusHead(tamperedSig).status == 403);  // HEAD answers carry no body
  HttpResponse badSig = tusPatch(tamperedSig, 700, bytes.substr(700));
  CHECK(badSig.status == 403);
  CHECK(badSig.json()["error"] == "invalid_signature");
  const std::string laterExpiry = withQueryValue(slot.url, "expires", "4102444800");
  CHECK(tusPatch(laterExpiry, 700, bytes.substr(700)).json()["error"] == "invalid_signature");
  std::string otherAttachment = slot.url;
  otherAttachment.replace(otherAttachment.find(slot.attachmentId), slot.attachmentId.size(), "att_0000000000");
  CHECK(tusHead(otherAttachment).status == 403);
  const std::string noSignature = slot.url.substr(0, slot.url.find('?'));
  CHECK(tusHead(noSignature).status == 403);

  REQUIRE(s.sim.admin("POST", "/clock", {{"shiftSeconds", 301}}).status == 200);
  HttpResponse expired = tusPatch(slot.url, 700, bytes.substr(700));
  CHECK(expired.status == 403);
  CHECK(expired.json()["error"] == "upload_url_expired");

  HttpResponse fresh =
      s.post("/work-orders/wo_1f92a0/attachments/" + slot.attachmentId + "/upload-url", s.technician, json::object());
  REQUIRE(fresh.status == 200);
  const std::string url2 = fresh.json()["upload"]["url"];
  CHECK(url2 != slot.url);
  CHECK(tusHead(url2).header("Upload-Offset") == "700");
  CHECK(tusPatch(url2, 700, bytes.substr(700)).status == 204);
  CHECK(s.post("/work-orders/wo_1f92a0/attachments/" + slot.attachmentId + "/complete", s.technician, json::object())
            .status == 200);
  HttpResponse afterComplete =
      s.post("/work-orders/wo_1f92a0/attachments/" + slot.attachmentId + "/upload-url", s.technician, json::object());
  CHECK(afterComplete.status == 409);
  CHECK(s.post("/work-orders/wo_1f92a0/attachments/att_missing/upload-url", s.technician, json::object()).status ==
        404);
}

TEST_CASE("signed download URLs serve the bytes until they expire or are tampered with", "[attachments]") {
  RunningSim s({"--seed", "5", "--upload-url-ttl", "120"});
  json list = s.get("/work-orders/wo_1f92a0/attachments", s.technician).json();
  REQUIRE(list["total"] == 1);  // the seed's completed signature upl_7fa223
  const std::string url = list["items"][0]["downloadUrl"];
  HttpResponse ok = httpCall("GET", url);
  CHECK(ok.status == 200);
  CHECK(platform::hexEncode(platform::sha256(ok.body)) == list["items"][0]["sha256"]);
  CHECK(ok.body.size() == list["items"][0]["sizeBytes"].get<std::size_t>());

  CHECK(httpCall("GET", withQueryValue(url, "signature", std::string(64, '0'))).json()["error"] == "invalid_signature");
  s.sim.admin("POST", "/clock", {{"shiftSeconds", 121}});
  HttpResponse expired = httpCall("GET", url);
  CHECK(expired.status == 403);
  CHECK(expired.json()["error"] == "download_url_expired");
}

TEST_CASE("slot requests are validated, chunks are capped at maxChunkBytes", "[attachments]") {
  RunningSim s({"--seed", "5", "--max-chunk-bytes", "1024"});
  json bad = slotFor("abc");
  bad["kind"] = "video";
  CHECK(s.post("/work-orders/wo_1f92a0/attachments", s.technician, bad).status == 400);
  bad = slotFor("abc");
  bad["sha256"] = "not-a-hash";
  CHECK(s.post("/work-orders/wo_1f92a0/attachments", s.technician, bad).status == 400);
  bad = slotFor("abc");
  bad["sizeBytes"] = -1;
  CHECK(s.post("/work-orders/wo_1f92a0/attachments", s.technician, bad).status == 400);
  bad = slotFor("abc");
  bad["fileName"] = "a\r\nSet-Cookie: x=y";
  CHECK(s.post("/work-orders/wo_1f92a0/attachments", s.technician, bad).status == 400);
  CHECK(s.post("/work-orders/wo_nothere/attachments", s.technician, slotFor("abc")).status == 404);

  const std::string bytes = photoBytes(2048);
  HttpResponse created = s.post("/work-orders/wo_1f92a0/attachments", s.technician, slotFor(bytes));
  REQUIRE(created.status == 201);
  CHECK(created.json()["upload"]["maxChunkBytes"] == 1024);
  const std::string url = created.json()["upload"]["url"];
  CHECK(tusPatch(url, 0, bytes).status == 413);
  CHECK(tusPatch(url, 0, bytes.substr(0, 1024)).status == 204);
  CHECK(tusPatch(url, 1024, bytes.substr(1024)).status == 204);

  HttpResponse options = httpCall("OPTIONS", url);
  CHECK(options.status == 204);
  CHECK(options.header("Tus-Extension") == "checksum");
}
