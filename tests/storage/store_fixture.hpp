#pragma once
// A store in a fresh folder with a fake clock, real entropy and a real key file.
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "temp_dir.hpp"

namespace fieldagent::testing {

inline storage::Json sampleWorkOrder(const std::string& id, const std::string& status = "scheduled") {
  return storage::Json::parse(R"({
    "workOrderId": ")" + id + R"(",
    "number": "WO-2026-)" + id +
                              R"(",
    "status": ")" + status + R"(",
    "priority": "high",
    "customerId": "cust_88b32e",
    "site": {"siteId": "site_2201", "address": {"line1": "500 Eastside Blvd", "city": "Atlanta", "region": "GA",
             "postalCode": "30312", "country": "US"}},
    "asset": {"assetId": "asset_9a01", "serialNumber": "SN-44728A", "model": "Chiller CX400"},
    "problemCode": "NO_COOL",
    "description": "Chiller not cooling; alarms present",
    "reportedAt": "2026-01-20T13:45:00Z",
    "slaDueAt": "2026-01-21T17:00:00Z",
    "appointmentWindow": {"start": "2026-01-21T13:00:00Z", "end": "2026-01-21T17:00:00Z"},
    "assignedTechnicianIds": ["tech_45af1d"],
    "updatedAt": "2026-01-21T09:30:00Z"
  })");
}

struct StoreFixture {
  TempDir dir;
  platform::FakeClock clock;
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys{dir / "keys" / "data.key", entropy};
  storage::StoreOptions options;
  std::unique_ptr<storage::Store> store;

  explicit StoreFixture(std::uint64_t quota = storage::tuning::kDefaultAttachmentQuotaBytes) {
    options.dataDir = dir / "data";
    options.attachmentQuotaBytes = quota;
    reopen();
  }

  void reopen() {
    store.reset();
    auto opened = storage::Store::open(options, clock, entropy, keys);
    if (!opened) throw std::runtime_error(opened.error().describe());
    store = std::move(opened).value();
  }

  void close() { store.reset(); }

  // A status move as the capture code will record it: the view changes and one operation carries it.
  storage::LocalWriteResult moveStatus(const std::string& workOrderId, const std::string& status) {
    storage::LocalWrite write;
    write.workOrderId = workOrderId;
    write.workOrderPatch = storage::Json{{"status", status}};
    write.operations.push_back({"status", {{"status", status}}, "etag-1", {}, {}});
    auto r = store->localWrites().applyLocalWrite(write);
    if (!r) throw std::runtime_error(r.error().describe());
    return std::move(r).value();
  }

  std::int64_t recordOp(const std::string& workOrderId, const std::string& kind,
                        std::vector<std::int64_t> dependsOn = {}) {
    storage::LocalWrite write;
    write.workOrderId = workOrderId;
    write.operations.push_back({kind, {{"kind", kind}}, "", std::move(dependsOn), {}});
    auto r = store->localWrites().applyLocalWrite(write);
    if (!r) throw std::runtime_error(r.error().describe());
    return r->operations.at(0).id;
  }
};

// A second, raw connection for looking at the file the way a support engineer would.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      sqlite3_close_v2(db_);  // a handle is made even when the open fails
      throw std::runtime_error("cannot open " + path.string());
    }
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // First column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("prepare failed: ") + sqlite3_errmsg(db_) + " in " + sql);
    }
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out.emplace_back(text != nullptr ? text : "NULL");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("step failed: ") + sqlite3_errmsg(db_));
    return out;
  }
  std::string one(const std::string& sql) {
    auto rows = column(sql);
    if (rows.empty()) throw std::runtime_error("no row from " + sql);
    return rows.front();
  }
  long long count(const std::string& sql) { return std::stoll(one(sql)); }
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error != nullptr ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(message + " in " + sql);
    }
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace fieldagent::testing
