// Offline entitlement check on a real store: warranty, contract entitlements, billable lines,
// catalog prices and the invoice summary.
#include <catch2/catch.hpp>

#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/coverage.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using nlohmann::json;

namespace {
struct Cached {
  testing::TempDir dir;
  platform::FakeClock clock;
  platform::FileKeyStore keys{dir / "key", platform::systemEntropy()};
  std::unique_ptr<storage::Store> store =
      storage::Store::open({dir / "data"}, clock, platform::systemEntropy(), keys).value();
  Cached() {
    REQUIRE(store->referenceData()
                .upsertReference(storage::ReferenceKind::part, {{{"partNumber", "FILTER-XL"}, {"unitPrice", 42.5}},
                                                                {{"partNumber", "COMPRESSOR-9"}, {"unitPrice", 1200.0}},
                                                                {{"partNumber", "BELT-2"}, {"unitPrice", 10.0}}})
                .ok());
    REQUIRE(store->referenceData()
                .upsertReference(
                    storage::ReferenceKind::asset,
                    {{{"assetId", "asset_9a01"},
                      {"customerId", "cust_88b32e"},
                      {"warranty", {{"start", "2025-06-01"}, {"end", "2026-05-31"}, {"coverage", {"parts"}}}}}})
                .ok());
    REQUIRE(store->referenceData()
                .upsertReference(
                    storage::ReferenceKind::contract,
                    {{{"contractId", "con_1"},
                      {"customerId", "cust_88b32e"},
                      {"start", "2026-01-01"},
                      {"end", "2026-12-31"},
                      {"assetIds", json::array()},
                      {"entitlements",
                       {{{"appliesTo", "labor"},
                         {"laborTypes", {"regular"}},
                         {"partNumbers", nullptr},
                         {"coveredPercent", 50}},
                        {{"appliesTo", "parts"},
                         {"partNumbers", {"BELT-2"}},
                         {"laborTypes", nullptr},
                         {"coveredPercent", 80}}}}},
                     {{"contractId", "con_expired"},
                      {"customerId", "cust_88b32e"},
                      {"start", "2024-01-01"},
                      {"end", "2024-12-31"},
                      {"entitlements", {{{"appliesTo", "labor"}, {"laborTypes", nullptr}, {"coveredPercent", 100}}}}}})
                .ok());
  }
};

const json kWorkOrder = {{"workOrderId", "wo_1f92a0"}, {"customerId", "cust_88b32e"}, {"asset", {{"assetId", "asset_9a01"}}}};
const json kConsumption = {
    {"parts", {{{"partNumber", "FILTER-XL"}, {"quantity", 2}}, {{"partNumber", "BELT-2"}, {"quantity", 1}}, {{"partNumber", "UNLISTED"}, {"quantity", 1}}}},
    {"labor", {{{"laborType", "regular"}, {"hours", 3.5}}, {{"laborType", "overtime"}, {"hours", 1}}}}};

platform::WallTime at(const char* iso) {
  platform::WallTime t{};
  REQUIRE(platform::parseIso8601(iso, t));
  return t;
}
}  // namespace

TEST_CASE("parts under warranty, contract entitlements and billable lines", "[coverage]") {
  Cached c;
  const json result = sync::classifyConsumption(kConsumption, kWorkOrder, *c.store, at("2026-01-21T14:00:00Z"),
                                                {{{"regular", 90.0}, {"overtime", 135.0}}, "USD"});
  const json& lines = result["lines"];
  REQUIRE(lines.size() == 5);
  // FILTER-XL: the asset's warranty covers parts until May 2026.
  CHECK(lines[0]["covered"] == true);
  CHECK(lines[0]["coveredPercent"] == 100);
  CHECK(lines[0]["coveredBy"]["kind"] == "warranty");
  CHECK(lines[0]["amount"] == 85.0);
  // BELT-2: the warranty (100%) beats the contract's 80%.
  CHECK(lines[1]["coveredBy"]["kind"] == "warranty");
  // A part missing from the catalog is covered by the warranty too, but has no price.
  CHECK(lines[2]["amount"].is_null());
  // Regular labor: 50% by the contract; overtime: not entitled (the expired contract does not count).
  CHECK(lines[3]["coveredPercent"] == 50);
  CHECK(lines[3]["coveredBy"]["id"] == "con_1");
  CHECK(lines[3]["coveredAmount"] == 157.5);
  CHECK(lines[3]["billableAmount"] == 157.5);
  CHECK(lines[4]["covered"] == false);
  CHECK(lines[4]["billableAmount"] == 135.0);
  CHECK(result["totals"]["laborBillableAmount"] == 292.5);
}

TEST_CASE("after the warranty ends, the contract's part entitlement applies", "[coverage]") {
  Cached c;
  const json result = sync::classifyConsumption(kConsumption, kWorkOrder, *c.store, at("2026-07-01T10:00:00Z"));
  const json& lines = result["lines"];
  CHECK(lines[0]["covered"] == false);  // FILTER-XL: billable now
  CHECK(lines[0]["billableAmount"] == 85.0);
  CHECK(lines[1]["coveredPercent"] == 80);  // BELT-2 by contract
  CHECK(lines[1]["coveredAmount"] == 8.0);
  CHECK(lines[1]["billableAmount"] == 2.0);
  CHECK(lines[3]["amount"].is_null());  // no labor rates configured: hours only
  CHECK(result["totals"]["laborCoveredHours"] == 1.75);

  const json invoice = sync::invoiceSummary("wo_1f92a0", {result, result});
  CHECK(invoice["totals"]["partsBillableAmount"] == 174.0);
  CHECK(invoice["totals"]["laborBillableAmount"].is_null());
  CHECK(invoice["billableLines"].size() == 10);
  CHECK(invoice["coveredLines"].empty());
}
