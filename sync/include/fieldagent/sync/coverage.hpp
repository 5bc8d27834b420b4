#pragma once
// Offline entitlement check: each part and labor line of a consumption classified as covered
// (by an active contract entitlement or the asset's warranty, with the covered percentage) or
// billable, from the cached contracts, asset and parts catalog, with an invoice-ready summary.
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/storage/store.hpp"

namespace fieldagent::sync {

using nlohmann::json;

struct CoverageSettings {
  // Hourly rates by labor type for the invoice summary; a type without a rate is summarised in
  // hours only (amounts null), as the catalog carries no labor prices.
  std::map<std::string, double> laborRates;
  std::string currency = "USD";
};

// Returns {"lines":[{"line":"parts"|"labor","index","partNumber"|"laborType","quantity"|"hours",
//   "covered":bool,"coveredPercent","coveredBy":{"kind":"warranty"|"contract","id"},"unitPrice",
//   "amount","coveredAmount","billableAmount"}], "totals":{...}}.
// `at` is when the work was done (warranty and contract dates are checked against it).
json classifyConsumption(const json& consumption, const json& workOrder, storage::Store& store,
                         platform::WallTime at, const CoverageSettings& settings = {});

// Sums the classifications of several consumptions of one work order into one summary.
json invoiceSummary(const std::string& workOrderId, const std::vector<json>& classifications,
                    const CoverageSettings& settings = {});

}  // namespace fieldagent::sync
