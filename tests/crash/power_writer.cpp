// The child of the ext4 power-cut test: opens the store in DATA (its key in KEYFILE) and
// records local writes for ever, every third with a photo of 20-200 KB streamed into the
// attachments folder, printing "W <writeId> <attachmentId|-> <sha256|->" once each write has
// committed. The parent cuts the file system's power under it.
//   crash_power_writer DATA KEYFILE ROUND
#include <unistd.h>

#include <cstdio>
#include <string>

#include "child_process_io.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"

using namespace fieldagent;

namespace {

[[noreturn]] void die(const char* what, const Error& e) { testing::dieWith("power writer", what, e); }
void say(const std::string& line) { testing::writeLine(line); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DATA KEYFILE ROUND\n", argv[0]);
    return 2;
  }
  const long round = std::stol(argv[3]);
  platform::SystemClock clock;
  platform::FileKeyStore keys(argv[2], platform::systemEntropy());
  auto opened = storage::Store::open({argv[1]}, clock, platform::systemEntropy(), keys);
  if (!opened) die("open", opened.error());
  storage::Store& store = **opened;
  if (!store.workOrders().workOrder("wo_1").ok()) {
    if (auto r = store.workOrders().upsertWorkOrder(
            {storage::Json{{"workOrderId", "wo_1"}, {"status", "on_site"}}, "\"v1\""});
        !r)
      die("prime", r.error());
  }
  for (long k = 0;; ++k) {
    storage::LocalWrite w;
    w.workOrderId = "wo_1";
    w.workOrderPatch = storage::Json{{"powerProbe", {{"round", round}, {"k", k}}}};
    w.operations.push_back({"note", {{"round", round}, {"k", k}}, "", {}, {}});
    std::string attachmentId = "-", sha = "-";
    if (k % 3 == 0) {
      auto writer = store.attachments().beginAttachment({"wo_1", "photo", "p.jpg", "image/jpeg", std::nullopt});
      if (!writer) die("begin", writer.error());
      const std::size_t size = 20'000 + static_cast<std::size_t>((round * 7919 + k * 104729) % 180'000);
      std::string bytes(size, '\0');
      std::uint64_t x = static_cast<std::uint64_t>(round * 1000003 + k);
      for (auto& c : bytes) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        c = static_cast<char>(x >> 56);
      }
      if (auto r = writer->append(bytes); !r) die("append", r.error());
      auto done = writer->finish();
      if (!done) die("finish", done.error());
      attachmentId = done->id;
      sha = done->sha256;
      w.attachments.push_back(*done);
      w.operations.push_back({"attachment_upload", {{"attachmentId", done->id}}, "", {}, {}});
    }
    auto r = store.localWrites().applyLocalWrite(w);
    if (!r) die("write", r.error());
    say("W " + std::to_string(r->writeId) + " " + attachmentId + " " + sha + " " + std::to_string(round) + " " +
        std::to_string(k) + "\n");
  }
}
