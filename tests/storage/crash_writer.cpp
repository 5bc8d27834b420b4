// The child of the crash test: captures work as the agent would, forever, reporting each local
// write on stdout after it committed, until the parent kills it with SIGKILL.
//   storage_crash_writer <data folder> <key file> <round>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "child_process_io.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;

namespace {

[[noreturn]] void die(const char* what, const Error& error) { testing::dieWith("crash writer", what, error); }
void report(const std::string& line) { testing::writeLine(line); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DATA_DIR KEY_FILE ROUND\n", argv[0]);
    return 2;
  }
  const long round = std::stol(argv[3]);
  platform::SystemClock clock;
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys(argv[2], entropy);
  StoreOptions options;
  options.dataDir = argv[1];
  auto opened = Store::open(options, clock, entropy, keys);
  if (!opened) die("open", opened.error());
  Store& store = **opened;

  std::vector<ServerWorkOrder> missing;
  for (int w = 0; w < 10; ++w) {
    const std::string id = "wo_" + std::to_string(w);
    if (store.workOrders().workOrder(id).ok()) continue;
    missing.push_back({Json{{"workOrderId", id},
                            {"status", "scheduled"},
                            {"customerId", "cust_1"},
                            {"assignedTechnicianIds", {"tech_1"}},
                            {"updatedAt", "2026-01-21T09:30:00Z"}},
                       "\"v1\""});
  }
  if (!missing.empty()) {
    if (auto r = store.workOrders().upsertWorkOrders(missing); !r) die("prime", r.error());
  }

  for (long k = 0;; ++k) {
    LocalWrite write;
    write.workOrderId = "wo_" + std::to_string(k % 10);
    write.workOrderPatch = Json{{"crashProbe", {{"round", round}, {"k", k}}},
                                {"notes", std::string(static_cast<std::size_t>(50 + (k * 37) % 900), 'n')}};
    write.operations.push_back({"note", {{"round", round}, {"k", k}}, "\"v1\"", {}, {}});
    if (k % 3 == 0) write.operations.push_back({"consumption", {{"round", round}, {"k", k}}, "", {}, {0}});
    if (k % 5 == 0) write.stock.push_back({"van_7", "FILTER-XL", "A-14", -1});
    if (k % 7 == 0) {
      auto writer =
          store.attachments().beginAttachment({write.workOrderId, "photo", "p.jpg", "image/jpeg", std::nullopt});
      if (!writer) die("begin attachment", writer.error());
      if (auto r = writer->append(std::string(static_cast<std::size_t>(3000 + k), 'a')); !r) die("append", r.error());
      auto done = writer->finish();
      if (!done) die("finish attachment", done.error());
      write.attachments.push_back(*done);
      write.operations.push_back({"attachment_upload", {{"attachmentId", done->id}}, "", {}, {}});
    }
    auto result = store.localWrites().applyLocalWrite(write);
    if (!result) die("local write", result.error());
    report("W " + std::to_string(round) + " " + std::to_string(k) + " " + std::to_string(result->writeId) + "\n");

    // Push some of the queue too, so kills also land in state moves and leave operations in flight.
    auto ready = store.outbox().readyOperations(clock.now(), 2);
    if (!ready) die("ready", ready.error());
    for (const auto& op : *ready) {
      if (auto r = store.outbox().markInFlight(op.id); !r) die("in flight", r.error());
      if (k % 2 == 0) {
        if (auto r = store.outbox().markDone(op.id, Json{{"ok", true}}); !r) die("done", r.error());
      }
    }
  }
}
