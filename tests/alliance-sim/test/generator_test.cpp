// The data generator in process: deterministic per seed, always holding the seed's records.
#include <catch2/catch.hpp>

#include <set>

#include "generator.hpp"
#include "simulator.hpp"
#include "temp_dir.hpp"

using fieldagent::sim::Database;
using fieldagent::sim::generateData;
using fieldagent::testing::TempDir;

namespace {
std::string dumpTable(Database& db, const std::string& sql) {
  auto st = db.prepare(sql);
  std::string out;
  while (st->step()) out += st->text(0) + "\n";
  return out;
}

struct Generated {
  explicit Generated(std::int64_t workOrders, int technicians = 5) {
    std::filesystem::create_directories(dir.path() / "uploads");
    db = std::make_unique<Database>(dir.path() / "sim.db");
    fieldagent::sim::createSchema(*db);
    db->exec("BEGIN");
    technicianIds = generateData(*db, dir.path() / "uploads", workOrders, technicians);
    db->exec("COMMIT");
  }
  TempDir dir;
  std::unique_ptr<Database> db;
  std::vector<std::string> technicianIds;
};
}  // namespace

TEST_CASE("the same seed value yields byte-identical data", "[generator]") {
  Generated a(300);
  Generated b(300);
  for (const char* sql : {"SELECT doc FROM work_orders ORDER BY work_order_id", "SELECT doc FROM customers ORDER BY 1",
                          "SELECT doc FROM assets ORDER BY 1", "SELECT doc FROM contracts ORDER BY 1",
                          "SELECT warehouse_id || part_number || bin || quantity FROM inventory ORDER BY 1"}) {
    INFO(sql);
    CHECK(dumpTable(*a.db, sql) == dumpTable(*b.db, sql));
  }
  Generated c(301);
  CHECK(dumpTable(*a.db, "SELECT doc FROM work_orders ORDER BY 1") !=
        dumpTable(*c.db, "SELECT doc FROM work_orders ORDER BY 1"));
}

TEST_CASE("generated data holds N work orders with unique numbers and the seed's example records", "[generator]") {
  Generated g(500, 7);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM work_orders") == 500);
  CHECK(g.db->scalar("SELECT COUNT(DISTINCT number) FROM work_orders") == 500);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM technicians") == 7);
  CHECK(g.technicianIds.front() == "tech_45af1d");
  CHECK(g.db->scalar(
            "SELECT COUNT(*) FROM work_orders WHERE work_order_id = 'wo_1f92a0' AND number = 'WO-2026-1045'") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM customers WHERE customer_id = 'cust_88b32e'") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM sites WHERE site_id = 'site_2201'") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM assets WHERE asset_id = 'asset_9a01'") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM inventory WHERE warehouse_id = 'wh_01' AND part_number = 'FILTER-XL' "
                     "AND bin = 'A-14'") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM attachments WHERE upload_token = 'upl_7fa223' AND status = 'available' "
                     "AND work_order_id = 'wo_1f92a0'") == 1);
  CHECK(std::filesystem::file_size(g.dir.path() / "uploads" / "att_3c9e01.bin") > 0);
  // Every work order points at a customer, site and asset that exist.
  CHECK(g.db->scalar("SELECT COUNT(*) FROM work_orders w WHERE NOT EXISTS (SELECT 1 FROM assets a WHERE "
                     "a.asset_id = w.asset_id AND a.customer_id = w.customer_id)") == 0);
  // Every status occurs.
  CHECK(g.db->scalar("SELECT COUNT(DISTINCT status) FROM work_orders") == 6);
}

TEST_CASE("one work order is enough: just the seed's", "[generator]") {
  Generated g(1, 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM work_orders") == 1);
  CHECK(g.db->scalar("SELECT COUNT(*) FROM work_orders WHERE work_order_id = 'wo_1f92a0'") == 1);
}
