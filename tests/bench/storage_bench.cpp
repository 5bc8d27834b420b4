// Bytes written to disk per captured operation (flash wear), and time per capture.
//   storage_bench [DATA_DIR] [OPERATIONS]
// DATA_DIR must be on a real block device (not tmpfs) for write_bytes to mean anything; it is
// emptied first. The figures go into docs/storage.md; scripts/bench takes the BENCH lines, whose
// baseline is the same operation bodies inserted as raw JSON rows into a plain SQLite table
// (WAL, same synchronous mode), one transaction each.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;

namespace {

struct Io {
  long long wchar = 0;       // bytes handed to write(2) and friends
  long long writeBytes = 0;  // bytes this process caused to be sent to the block device
};

Io readIo() {
  Io io;
  std::ifstream in("/proc/self/io");
  std::string key;
  long long value = 0;
  while (in >> key >> value) {
    if (key == "wchar:") io.wchar = value;
    if (key == "write_bytes:") io.writeBytes = value;
  }
  return io;
}

Json workOrder(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "wo_%04d", i);
  return Json{{"workOrderId", id},
              {"number", std::string("WO-2026-") + id},
              {"status", "scheduled"},
              {"priority", "high"},
              {"customerId", "cust_" + std::to_string(i % 40)},
              {"site",
               {{"siteId", "site_" + std::to_string(i)},
                {"address",
                 {{"line1", "500 Eastside Blvd"},
                  {"city", "Atlanta"},
                  {"region", "GA"},
                  {"postalCode", "30312"},
                  {"country", "US"}}}}},
              {"asset", {{"assetId", "asset_" + std::to_string(i)}, {"serialNumber", "SN-44728A"}, {"model", "CX400"}}},
              {"problemCode", "NO_COOL"},
              {"description", "Chiller not cooling; alarms present"},
              {"reportedAt", "2026-01-20T13:45:00Z"},
              {"slaDueAt", "2026-01-21T17:00:00Z"},
              {"appointmentWindow", {{"start", "2026-01-21T13:00:00Z"}, {"end", "2026-01-21T17:00:00Z"}}},
              {"assignedTechnicianIds", {"tech_45af1d"}},
              {"updatedAt", "2026-01-21T09:30:00Z"}};
}

// The mix of a technician's day: status moves, consumptions (parts + labor, adjusting van
// stock) and notes, one local write each.
LocalWrite capture(int i, int workOrders) {
  LocalWrite w;
  char id[32];
  std::snprintf(id, sizeof id, "wo_%04d", i % workOrders);
  w.workOrderId = id;
  switch (i % 3) {
    case 0:
      w.workOrderPatch = Json{{"status", "on_site"}};
      w.operations.push_back(
          {"status", {{"status", "on_site"}, {"occurredAt", "2026-01-21T14:00:00Z"}}, "\"etag-1\"", {}, {}});
      break;
    case 1:
      w.stock.push_back({"van_7", "FILTER-XL", "A-14", -2});
      w.operations.push_back(
          {"consumption",
           Json::parse(R"({"parts":[{"partNumber":"FILTER-XL","description":"XL Air Filter","quantity":2,"uom":"EA",
             "warehouseId":"van_7","bin":"A-14","serialNumbers":[],"lotNumber":null}],
             "labor":[{"technicianId":"tech_45af1d","laborType":"regular","hours":3.5,
             "startAt":"2026-01-21T14:00:00Z","endAt":"2026-01-21T17:30:00Z","notes":"Diagnostics and filter replacement"}]})"),
           "",
           {},
           {}});
      break;
    default:
      w.operations.push_back({"note", {{"text", "Customer asked for a follow-up visit next week."}}, "", {}, {}});
  }
  return w;
}

// The baseline: each operation's body as one row of a plain table, one transaction each.
struct RawFigures {
  double writeBytesPerOp = 0;
  double usPerOp = 0;
};

RawFigures rawSqlite(const std::filesystem::path& file, Durability durability, int operations, int workOrders) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open " + file.string());
  const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                              (durability == Durability::full ? "FULL" : "NORMAL") +
                              "; CREATE TABLE ops(id INTEGER PRIMARY KEY, work_order TEXT, kind TEXT, body TEXT)";
  if (sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error("pragmas");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO ops(work_order, kind, body) VALUES (?, ?, ?)", -1, &insert, nullptr);
  const Io before = readIo();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < operations; ++i) {
    const LocalWrite w = capture(i, workOrders);
    const auto& op = w.operations.front();
    const std::string body = op.payload.dump();
    sqlite3_bind_text(insert, 1, w.workOrderId.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, op.kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, body.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(insert);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const Io after = readIo();
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return {static_cast<double>(after.writeBytes - before.writeBytes) / operations,
          std::chrono::duration<double, std::micro>(elapsed).count() / operations};
}

void emit(const std::string& figure, const std::string& unit, double ours, double baseline) {
  std::printf("BENCH {\"figure\":\"%s\",\"unit\":\"%s\",\"ours\":%.3f,\"baseline\":%.3f,\"better\":\"lower\"}\n",
              figure.c_str(), unit.c_str(), ours, baseline);
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path() / "storage-bench";
  const int operations = argc > 2 ? std::stoi(argv[2]) : 3000;
  constexpr int kWorkOrders = 200;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  platform::SystemClock clock;
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys(dir / "data.key", entropy);
  for (Durability durability : {Durability::full, Durability::normal}) {
    StoreOptions options;
    options.dataDir = dir / (durability == Durability::full ? "full" : "normal");
    options.durability = durability;
    auto opened = Store::open(options, clock, entropy, keys);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      return 1;
    }
    Store& store = **opened;
    std::vector<ServerWorkOrder> batch;
    for (int i = 0; i < kWorkOrders; ++i) batch.push_back({workOrder(i), "\"etag-1\""});
    if (auto r = store.workOrders().upsertWorkOrders(batch); !r) return 1;
    if (auto r = store.referenceData().upsertStock({Json{
            {"warehouseId", "van_7"}, {"partNumber", "FILTER-XL"}, {"bin", "A-14"}, {"quantityOnHand", 1000000}}});
        !r) {
      return 1;
    }

    const Io before = readIo();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < operations; ++i) {
      if (auto r = store.localWrites().applyLocalWrite(capture(i, kWorkOrders)); !r) {
        std::fprintf(stderr, "write %d: %s\n", i, r.error().message.c_str());
        return 1;
      }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const Io after = readIo();
    const double us = std::chrono::duration<double, std::micro>(elapsed).count() / operations;
    std::printf(
        "synchronous=%s  capture: operations=%d  write() bytes/op=%.0f  block-device bytes/op=%.0f  "
        "time/op=%.0f us\n",
        durability == Durability::full ? "FULL" : "NORMAL", operations,
        static_cast<double>(after.wchar - before.wchar) / operations,
        static_cast<double>(after.writeBytes - before.writeBytes) / operations, us);
    const RawFigures raw =
        rawSqlite(dir / (durability == Durability::full ? "raw-full.db" : "raw-normal.db"), durability, operations,
                  kWorkOrders);
    const std::string mode = durability == Durability::full ? "synchronous=FULL (default)" : "synchronous=NORMAL";
    emit("Disk bytes written per captured operation, " + mode, "B",
         static_cast<double>(after.writeBytes - before.writeBytes) / operations, raw.writeBytesPerOp);
    emit("Capture time per operation (storage only), " + mode, "ms", us / 1000, raw.usPerOp / 1000);

    // Then the push: each operation taken in flight and marked done, as the pusher does.
    int pushed = 0;
    const auto pushStart = std::chrono::steady_clock::now();
    while (true) {
      auto ready = store.outbox().readyOperations(clock.now(), 50);
      if (!ready || ready->empty()) break;
      for (const auto& op : *ready) {
        if (!store.outbox().markInFlight(op.id) || !store.outbox().markDone(op.id, Json{{"status", "ok"}})) return 1;
        ++pushed;
      }
    }
    const auto pushElapsed = std::chrono::steady_clock::now() - pushStart;
    const Io pushedIo = readIo();
    std::printf(
        "synchronous=%s  push:    operations=%d  write() bytes/op=%.0f  block-device bytes/op=%.0f  "
        "time/op=%.0f us\n",
        durability == Durability::full ? "FULL" : "NORMAL", pushed,
        static_cast<double>(pushedIo.wchar - after.wchar) / pushed,
        static_cast<double>(pushedIo.writeBytes - after.writeBytes) / pushed,
        std::chrono::duration<double, std::micro>(pushElapsed).count() / pushed);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
