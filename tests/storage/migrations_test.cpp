#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/storage/schema.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::RawDb;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::StoreFixture;
using fieldagent::testing::TempDir;

namespace {

// A data folder holding a database file made by hand, before any store opens it.
struct PreparedFolder {
  TempDir dir;
  platform::FakeClock clock;
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys{dir / "key", entropy};
  std::filesystem::path data = dir / "data";
  std::filesystem::path db = data / "fieldagent.db";

  PreparedFolder() { REQUIRE(platform::fs::ensureDir(data, 0700).ok()); }

  Result<std::unique_ptr<Store>> open() {
    StoreOptions options;
    options.dataDir = data;
    return Store::open(options, clock, entropy, keys);
  }
};

}  // namespace

TEST_CASE("a new file is made at the latest schema version, in WAL mode", "[migrations]") {
  StoreFixture f;
  CHECK(f.store->schemaVersion() == kSchemaVersion);
  RawDb raw(f.store->databasePath());
  CHECK(raw.one("PRAGMA user_version") == std::to_string(kSchemaVersion));
  CHECK(raw.one("PRAGMA journal_mode") == "wal");
  CHECK(raw.one("PRAGMA integrity_check") == "ok");
  CHECK(raw.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_queue'") == 1);
}

TEST_CASE("an empty file left by a crash before the first migration is migrated from scratch", "[migrations]") {
  PreparedFolder folder;
  REQUIRE(platform::fs::atomicWrite(folder.db, "", 0600).ok());
  auto store = folder.open();
  REQUIRE(store.ok());
  REQUIRE((*store)->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
}

TEST_CASE("a version 1 file with queued work migrates to version 2 and keeps every row", "[migrations]") {
  PreparedFolder folder;
  const auto& path = folder.db;
  REQUIRE(*migrateDatabaseFile(path, 1) == 1);
  {
    // What an agent of schema 1 left: a work order, a rejected upload, a consumption depending
    // on it, a later status move, and a consumption waiting on the waiting consumption.
    RawDb raw(path);
    CHECK(raw.count("SELECT COUNT(*) FROM pragma_table_info('outbox') WHERE name = 'held'") == 0);
    const std::string doc = sampleWorkOrder("wo_1").dump();
    raw.exec(
        "INSERT INTO work_orders (work_order_id, status, doc, server_doc, cached_at) VALUES ('wo_1', "
        "'scheduled', '" +
        doc + "', '" + doc + "', 0)");
    raw.exec("INSERT INTO local_writes (id, work_order_id, created_at) VALUES (1, 'wo_1', 0), (2, 'wo_1', 0)");
    raw.exec(
        "INSERT INTO outbox (id, write_id, kind, work_order_id, payload, idempotency_key, state, created_at, "
        "updated_at) VALUES "
        "(1, 1, 'attachment_upload', 'wo_1', '{}', 'k1', 'rejected', 0, 0),"
        "(2, 1, 'consumption', 'wo_1', '{}', 'k2', 'pending', 0, 0),"
        "(3, 2, 'status', 'wo_1', '{\"status\":\"completed\"}', 'k3', 'pending', 0, 0),"
        "(4, 2, 'consumption', 'wo_1', '{}', 'k4', 'pending', 0, 0)");
    raw.exec("INSERT INTO outbox_deps (op_id, depends_on) VALUES (2, 1), (4, 2)");
  }

  auto store = folder.open();
  REQUIRE(store.ok());
  Store& s = **store;
  CHECK(s.outbox().operation(2)->held);
  CHECK(s.outbox().operation(4)->held);  // held through the chain
  CHECK_FALSE(s.outbox().operation(3)->held);
  CHECK(s.outbox().operation(3)->idempotencyKey == "k3");
  auto ready = s.outbox().readyOperations(folder.clock.now(), 10);
  REQUIRE(ready->size() == 1);
  CHECK(ready->at(0).id == 3);
  REQUIRE(s.syncState().recordSyncRun({folder.clock.now(), folder.clock.now(), "ok", ""}).ok());  // a version 2 table
  RawDb raw(path);
  CHECK(raw.one("PRAGMA user_version") == "2");
  CHECK(raw.count("SELECT COUNT(*) FROM outbox") == 4);
  CHECK(raw.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'outbox_live'") == 0);
  CHECK(raw.one("PRAGMA integrity_check") == "ok");
}

TEST_CASE("a file from a newer schema is refused with a clear error and left as it was", "[migrations]") {
  StoreFixture f;
  const auto path = f.store->databasePath();
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  f.close();
  {
    RawDb raw(path);
    raw.exec("PRAGMA user_version = 3; CREATE TABLE from_the_future (x)");
  }
  auto store = Store::open(f.options, f.clock, f.entropy, f.keys);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == "schema_too_new");
  CHECK(store.error().message.find("version 3") != std::string::npos);
  CHECK(store.error().message.find(path.string()) != std::string::npos);
  RawDb raw(path);
  CHECK(raw.one("PRAGMA user_version") == "3");
  CHECK(raw.count("SELECT COUNT(*) FROM work_orders") == 1);
}

TEST_CASE("a file that is not a database is refused as corrupt, not overwritten", "[migrations]") {
  PreparedFolder folder;
  const std::string junk(8192, 'J');
  REQUIRE(platform::fs::atomicWrite(folder.db, junk, 0600).ok());
  auto store = folder.open();
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == "corrupt");
  CHECK(store.error().message.find("fieldagent.db") != std::string::npos);
  CHECK(*platform::fs::readFile(folder.db) == junk);
  CHECK(migrateDatabaseFile(folder.dir / "other.db", 7).error().code == "invalid");
}
