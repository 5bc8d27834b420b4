// The uploader's tus client against a third-party tus 1.0.0 server: @tus/server with
// @tus/file-store (npm), installed by tus-server/install.sh and run by node on loopback.
#include <catch2/catch.hpp>

#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "error_code_checks.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/uploader.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using nlohmann::json;

namespace {

// node server.mjs on 127.0.0.1:0; the port comes from its first line. Closing its standard
// input ends it.
class TusServer {
 public:
  explicit TusServer(const std::filesystem::path& uploads) {
    const int installed = std::system("sh '" TUS_INSTALL_SCRIPT "' '" TUS_INSTALL_DIR "' >&2");
    if (installed != 0) {
      throw std::runtime_error("could not install @tus/server and @tus/file-store with " TUS_INSTALL_SCRIPT
                               " (needs node >= 20.19 and npm: apt-get install nodejs npm)");
    }
    Poco::Process::Args args{std::string(TUS_INSTALL_DIR) + "/server.mjs", uploads.string()};
    handle_ = std::make_unique<Poco::ProcessHandle>(Poco::Process::launch("node", args, &in_, &out_, nullptr));
    Poco::PipeInputStream lines(out_);
    std::string line;
    std::getline(lines, line);
    auto start = json::parse(line, nullptr, false);
    if (!start.is_object() || !start.contains("port")) {
      stop();
      throw std::runtime_error("the tus server did not start: '" + line + "'");
    }
    port_ = start["port"].get<int>();
  }
  ~TusServer() { stop(); }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void stop() {
    if (!handle_) return;
    in_.close(Poco::Pipe::CLOSE_WRITE);
    handle_->wait();
    handle_.reset();
  }
  Poco::Pipe in_;
  Poco::Pipe out_;
  std::unique_ptr<Poco::ProcessHandle> handle_;
  int port_ = 0;
};

// The contract has no creation step: the resource is made here with tus creation, as the
// upstream does when it hands out a slot.
std::string createResource(platform::HttpExchange& http, const std::string& base, std::uint64_t length) {
  auto created = http.exchange({"POST", base + "/files", {{"Tus-Resumable", "1.0.0"}, {"Upload-Length", std::to_string(length)}}, ""});
  REQUIRE(created.ok());
  REQUIRE(created->status == 201);
  auto location = created->header("Location");
  REQUIRE(location.has_value());
  return location->rfind("http", 0) == 0 ? *location : base + *location;
}

// Cuts the n-th PATCH after `keep` bytes of its body.
class CuttingExchange final : public platform::HttpExchange {
 public:
  explicit CuttingExchange(platform::HttpExchange& real) : real_(real) {}
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    if (request.method != "PATCH") return real_.exchange(request);
    ++patches;
    if (patches != cutPatch) return real_.exchange(request);
    platform::HttpRequest shortened = request;
    shortened.body.resize(keep);
    (void)real_.exchange(shortened);
    return Error{"transport_failed", "connection cut by the test"};
  }
  int patches = 0;
  int cutPatch = 0;
  std::size_t keep = 0;

 private:
  platform::HttpExchange& real_;
};

struct StoredPhoto {
  std::string id;
  std::string plaintext;
};

StoredPhoto storePhoto(storage::Store& store, std::size_t size) {
  REQUIRE(store.workOrders()
              .upsertWorkOrder(
                  {{{"workOrderId", "wo_tus"}, {"status", "on_site"}, {"updatedAt", "2026-01-21T09:30:00Z"}}, ""})
              .ok());
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  auto writer = store.attachments().beginAttachment({"wo_tus", "photo", "p.jpg", "image/jpeg", size});
  REQUIRE(writer.ok());
  REQUIRE(writer->append(bytes).ok());
  auto finished = writer->finish();
  REQUIRE(finished.ok());
  storage::LocalWrite write;
  write.workOrderId = "wo_tus";
  write.attachments.push_back(*finished);
  write.operations.push_back({"attachment_upload", {{"attachmentId", finished->id}}, "", {}, {}});
  auto recorded = store.localWrites().applyLocalWrite(write);
  if (!recorded) FAIL(recorded.error().describe());
  return {finished->id, bytes};
}

std::string fileText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("@tus/server receives an upload, and a resumed upload after a cut, byte for byte") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "tus");
  TusServer server(dir / "tus");
  platform::FakeClock clock(platform::SystemClock().now());
  platform::FileKeyStore keys(dir / "keys" / "data.key", platform::systemEntropy());
  auto store = storage::Store::open({dir / "data"}, clock, platform::systemEntropy(), keys).value();
  platform::PocoHttpExchange http;
  CuttingExchange cutting(http);
  sync::UpstreamClient client({server.base(), ""}, cutting, clock);

  SECTION("in one go") {
    auto photo = storePhoto(*store, 700'000);
    const std::string url = createResource(http, server.base(), photo.plaintext.size());
    auto reader = store->attachments().openAttachment(photo.id).value();
    auto done = sync::tusSend(client, reader, url, 256u << 10, false, 2, nullptr);
    INFO(done.stoppedBy.status << " " << done.stoppedBy.errorCode << " " << done.stoppedBy.message);
    REQUIRE(done.stoppedBy.ok());
    CHECK(done.offset == photo.plaintext.size());
    const std::string resourceId = url.substr(url.rfind('/') + 1);
    CHECK(fileText(dir / "tus" / resourceId) == photo.plaintext);
  }

  SECTION("cut mid-chunk, then resumed from the server's offset") {
    auto photo = storePhoto(*store, 900'000);
    const std::string url = createResource(http, server.base(), photo.plaintext.size());
    auto reader = store->attachments().openAttachment(photo.id).value();
    cutting.cutPatch = 2;
    cutting.keep = 100'000;
    auto first = sync::tusSend(client, reader, url, 256u << 10, false, 2, nullptr);
    REQUIRE_FALSE(first.stoppedBy.ok());
    CHECK(first.stoppedBy.errorCode == "transport_failed");
    std::vector<std::uint64_t> offsets;
    auto second = sync::tusSend(client, reader, url, 256u << 10, false, 2,
                                [&](std::uint64_t offset) { offsets.push_back(offset); });
    INFO(second.stoppedBy.status << " " << second.stoppedBy.errorCode << " " << second.stoppedBy.message);
    REQUIRE(second.stoppedBy.ok());
    CHECK(second.offset == photo.plaintext.size());
    // Resumed where the server stood: the first chunk and the part of the second that arrived.
    REQUIRE_FALSE(offsets.empty());
    CHECK(offsets.front() == (256u << 10) + 100'000);
    CHECK(cutting.patches == 2 + 3);
    const std::string resourceId = url.substr(url.rfind('/') + 1);
    CHECK(fileText(dir / "tus" / resourceId) == photo.plaintext);
  }
}
