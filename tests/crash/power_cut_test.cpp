// Power cuts in the middle of the store's work, simulated below SQLite (powercut_vfs): at
// hundreds of points chosen from a seed, the files are cut back to what a disk could hold
// (the bytes of each file's last sync, plus none or a random half of the writes since), and
// the store is opened on what survived. It must be whole (integrity_check, every local write
// with all its operations, every batch of work orders whole or absent), and must hold every
// transaction whose commit had returned before the cut (synchronous=FULL), or before the last
// sync of the WAL (synchronous=NORMAL).
#include <sqlite3.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "powercut_vfs.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using fieldagent::testing::TempDir;
namespace powercut = fieldagent::testing::powercut;

namespace {

constexpr int kBatch = 8;  // work orders per upsert batch

struct Committed {
  std::vector<std::pair<std::int64_t, int>> writes;  // write id, step
  int batches = 0;
};

struct Cut {
  std::filesystem::path dir;
  std::size_t writesDurable = 0;  // committed writes that must be there
  int batchesDurable = 0;
  double keepShare = 0;
  std::uint64_t operation = 0;
};

class Raw {
 public:
  explicit Raw(const std::filesystem::path& file) {
    REQUIRE(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  }
  ~Raw() { sqlite3_close(db_); }
  std::string one(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    INFO(sql);
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  }
  long count(const std::string& sql) { return std::stol(one(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

storage::ServerWorkOrder workOrder(const std::string& id, int version) {
  return {storage::Json{{"workOrderId", id},
                        {"status", "scheduled"},
                        {"customerId", "cust_1"},
                        {"assignedTechnicianIds", {"tech_1"}},
                        {"description", std::string(1200, static_cast<char>('a' + version % 26))},
                        {"updatedAt", "2026-01-21T09:30:00Z"}},
          "\"v" + std::to_string(version) + "\""};
}

// The store's day in miniature: batches of work orders from a pull, local writes with two
// operations each, and pushes moving operations through in_flight to done.
void workload(const std::filesystem::path& data, platform::KeyStore& keys, storage::Durability durability,
              Committed& committed) {
  platform::FakeClock clock;
  storage::StoreOptions options;
  options.dataDir = data;
  options.durability = durability;
  auto opened = storage::Store::open(options, clock, platform::systemEntropy(), keys);
  REQUIRE(opened.ok());
  auto& store = **opened;
  for (int step = 0; step < 150; ++step) {
    if (step % 15 == 0) {
      std::vector<storage::ServerWorkOrder> batch;
      const int b = committed.batches;
      for (int i = 0; i < kBatch; ++i) batch.push_back(workOrder("wo_b" + std::to_string(b) + "_" + std::to_string(i), step));
      REQUIRE(store.workOrders().upsertWorkOrders(batch).ok());
      ++committed.batches;
      continue;
    }
    storage::LocalWrite w;
    w.workOrderId = "wo_b0_" + std::to_string(step % kBatch);
    w.workOrderPatch = storage::Json{{"powercut", {{"step", step}}}, {"notes", std::string(900 + step * 13 % 700, 'n')}};
    w.operations.push_back({"note", {{"step", step}}, "\"v1\"", {}, {}});
    w.operations.push_back({"consumption", {{"step", step}}, "", {}, {0}});
    auto r = store.localWrites().applyLocalWrite(w);
    REQUIRE(r.ok());
    committed.writes.emplace_back(r->writeId, step);
    if (step % 4 == 0) {
      auto ready = store.outbox().readyOperations(clock.now(), 3);
      REQUIRE(ready.ok());
      for (const auto& op : *ready) {
        REQUIRE(store.outbox().markInFlight(op.id).ok());
        if (op.id % 2 == 0) REQUIRE(store.outbox().markDone(op.id, storage::Json{{"ok", true}}).ok());
      }
    }
  }
}

void verify(const Cut& cut, const Committed& committed, platform::KeyStore& keys) {
  INFO("cut at operation " << cut.operation << ", keep share " << cut.keepShare << ", durable writes "
                           << cut.writesDurable << ", durable batches " << cut.batchesDurable);
  const auto db = cut.dir / "fieldagent.db";
  if (!std::filesystem::exists(db)) {
    REQUIRE(cut.writesDurable == 0);
    REQUIRE(cut.batchesDurable == 0);
    return;
  }
  {
    Raw raw(db);
    REQUIRE(raw.one("PRAGMA integrity_check") == "ok");
  }
  // The store opens on what survived (finishing or redoing its migrations if the cut came
  // during them).
  platform::FakeClock clock;
  auto store = storage::Store::open({cut.dir}, clock, platform::systemEntropy(), keys);
  INFO((store ? std::string() : store.error().message));
  REQUIRE(store.ok());
  store->reset();
  Raw raw(db);
  REQUIRE(raw.one("PRAGMA integrity_check") == "ok");
  CHECK(raw.one("PRAGMA foreign_key_check").empty());
  // All or nothing: every write with both its operations, every batch whole.
  CHECK(raw.count("SELECT COUNT(*) FROM local_writes w WHERE (SELECT COUNT(*) FROM outbox o WHERE o.write_id = w.id) <> 2") == 0);
  CHECK(raw.count("SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM local_writes w WHERE w.id = o.write_id)") == 0);
  for (int b = 0; b < committed.batches; ++b) {
    const long n = raw.count("SELECT COUNT(*) FROM work_orders WHERE work_order_id LIKE 'wo\\_b" + std::to_string(b) +
                             "\\_%' ESCAPE '\\'");
    INFO("batch " << b);
    CHECK((n == 0 || n == kBatch));
    if (b < cut.batchesDurable) CHECK(n == kBatch);
  }
  // Durable: every write committed before the cut (or the last WAL sync) is there as written.
  for (std::size_t i = 0; i < cut.writesDurable; ++i) {
    const auto& [id, step] = committed.writes[i];
    INFO("write " << id << " step " << step);
    CHECK(raw.count("SELECT COUNT(*) FROM local_writes WHERE id = " + std::to_string(id) +
                    " AND json_extract(patch, '$.powercut.step') = " + std::to_string(step)) == 1);
  }
}

// Runs the workload `runs` times, cutting the power at about `cutsPerRun` points of each;
// returns the cuts verified.
int powerCuts(storage::Durability durability, int runs, int cutsPerRun, std::uint32_t seed) {
  powercut::install();
  // The cuts are decided by the shim, not by the disk: the work runs in memory (tmpfs) where
  // fsync costs nothing, rather than waiting on a real disk thousands of times.
  if (std::filesystem::is_directory("/dev/shm") && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  std::mt19937 dice(seed);
  TempDir keysDir;
  platform::FileKeyStore keys(keysDir / "data.key", platform::systemEntropy());
  // A dry run counts the operations, so the cut points spread over the whole workload.
  std::uint64_t total = 0;
  {
    TempDir dir;
    powercut::reset();
    Committed committed;
    workload(dir / "data", keys, durability, committed);
    total = powercut::operations();
  }
  REQUIRE(total > 100);
  int verified = 0;
  for (int run = 0; run < runs; ++run) {
    TempDir dir;
    powercut::reset();
    Committed committed;
    std::vector<Cut> cuts;
    std::size_t walDurable = 0;
    int walDurableBatches = 0;
    bool lastWasWalSync = false;
    std::size_t pendingWrites = 0;
    int pendingBatches = 0;
    std::bernoulli_distribution cutHere(static_cast<double>(cutsPerRun) / static_cast<double>(total));
    const double keepShare = run % 2 == 0 ? 0.0 : 0.5;
    powercut::onOperation([&](std::uint64_t operation, bool walSync) {
      // The sync before this operation returned: what was committed before it is on disk.
      if (lastWasWalSync) {
        walDurable = pendingWrites;
        walDurableBatches = pendingBatches;
      }
      lastWasWalSync = walSync;
      if (walSync) {
        pendingWrites = committed.writes.size();
        pendingBatches = committed.batches;
      }
      if (!cutHere(dice)) return;
      Cut cut;
      cut.dir = dir / ("cut-" + std::to_string(cuts.size()));
      cut.operation = operation;
      cut.keepShare = keepShare;
      if (durability == storage::Durability::full) {
        cut.writesDurable = committed.writes.size();
        cut.batchesDurable = committed.batches;
      } else {
        cut.writesDurable = walDurable;
        cut.batchesDurable = walDurableBatches;
      }
      powercut::snapshot(dir / "data", cut.dir, keepShare, dice);
      cuts.push_back(cut);
    });
    workload(dir / "data", keys, durability, committed);
    powercut::onOperation({});
    for (const auto& cut : cuts) {
      verify(cut, committed, keys);
      std::filesystem::remove_all(cut.dir);
      ++verified;
    }
  }
  return verified;
}

std::uint32_t seed() {
  const char* text = std::getenv("FIELDAGENT_POWERCUT_SEED");
  return text != nullptr ? static_cast<std::uint32_t>(std::strtoul(text, nullptr, 10)) : 20261128u;
}

}  // namespace

TEST_CASE("power cuts at 240 points with synchronous FULL lose no committed transaction and corrupt nothing",
          "[powercut]") {
  const auto s = seed();
  INFO("seed " << s << " (FIELDAGENT_POWERCUT_SEED)");
  const int cuts = powerCuts(storage::Durability::full, 6, 40, s);
  CHECK(cuts >= 200);
  WARN("synchronous=FULL: " << cuts << " power cuts verified, seed " << s);
}

TEST_CASE("power cuts at 80 points with synchronous NORMAL keep everything before the last WAL sync",
          "[powercut]") {
  const auto s = seed() + 1;
  INFO("seed " << s);
  const int cuts = powerCuts(storage::Durability::normal, 2, 40, s);
  CHECK(cuts >= 60);
  WARN("synchronous=NORMAL: " << cuts << " power cuts verified, seed " << s);
}
