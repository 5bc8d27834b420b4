#include "fieldagent/sync/coverage.hpp"

#include <cmath>

namespace fieldagent::sync {
namespace {

// A timestamp, or a plain day ("2026-12-31": an end day covers the whole day).
bool parseDateOrTime(const json& v, bool endOfDay, platform::WallTime& out) {
  if (!v.is_string()) return false;
  std::string s = v.get<std::string>();
  if (s.size() == 10) s += endOfDay ? "T23:59:59Z" : "T00:00:00Z";
  return platform::parseIso8601(s, out);
}

// Inside [start, end] where either is given; an unreadable date never grants cover.
bool activeAt(const json& doc, const char* startKey, const char* endKey, platform::WallTime at) {
  platform::WallTime t{};
  if (doc.contains(startKey) && !doc[startKey].is_null()) {
    if (!parseDateOrTime(doc[startKey], false, t) || at < t) return false;
  }
  if (doc.contains(endKey) && !doc[endKey].is_null()) {
    if (!parseDateOrTime(doc[endKey], true, t) || at > t) return false;
  }
  return true;
}

bool listed(const json& list, const std::string& value) {
  if (list.is_null()) return true;  // null: every part / labor type
  if (!list.is_array()) return false;
  for (const auto& v : list) {
    if (v.is_string() && v.get_ref<const std::string&>() == value) return true;
  }
  return false;
}

std::string str(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : "";
}

double num(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_number() ? doc[key].get<double>() : 0.0;
}

double cents(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

json classifyConsumption(const json& consumption, const json& workOrder, storage::Store& store, platform::WallTime at,
                         const CoverageSettings& settings) {
  const std::string customerId = str(workOrder, "customerId");
  const std::string assetId = workOrder.contains("asset") ? str(workOrder["asset"], "assetId") : "";

  json warranty;
  if (!assetId.empty()) {
    if (auto asset = store.referenceData().reference(storage::ReferenceKind::asset, assetId);
        asset && asset->contains("warranty")) {
      warranty = (*asset)["warranty"];
    }
  }
  // Contracts that may cover this work: the customer's, and any naming the asset.
  std::map<std::string, json> contracts;
  if (!customerId.empty()) {
    if (auto page = store.referenceData().listReference(storage::ReferenceKind::contract, customerId, 1, 200); page) {
      for (auto& c : page->items) contracts[str(c, "contractId")] = c;
    }
  }
  if (!assetId.empty()) {
    if (auto forAsset = store.referenceData().contractsForAsset(assetId); forAsset) {
      for (auto& c : *forAsset) contracts[str(c, "contractId")] = c;
    }
  }

  auto bestCover = [&](const std::string& appliesTo, const std::string& item, const char* listKey) {
    json best = {{"covered", false}, {"coveredPercent", 0}, {"coveredBy", nullptr}};
    if (warranty.is_object() && activeAt(warranty, "start", "end", at) && warranty.contains("coverage") &&
        listed(warranty["coverage"], appliesTo) && !warranty["coverage"].is_null()) {
      return json{{"covered", true}, {"coveredPercent", 100}, {"coveredBy", {{"kind", "warranty"}, {"id", assetId}}}};
    }
    for (const auto& [id, contract] : contracts) {
      if (!activeAt(contract, "start", "end", at)) continue;
      // A contract naming assets covers only those assets.
      if (contract.contains("assetIds") && contract["assetIds"].is_array() && !contract["assetIds"].empty() &&
          !listed(contract["assetIds"], assetId)) {
        continue;
      }
      if (!contract.contains("entitlements") || !contract["entitlements"].is_array()) continue;
      for (const auto& e : contract["entitlements"]) {
        if (str(e, "appliesTo") != appliesTo) continue;
        if (!listed(e.contains(listKey) ? e[listKey] : json(nullptr), item)) continue;
        const double pct = std::clamp(num(e, "coveredPercent"), 0.0, 100.0);
        if (pct > best["coveredPercent"].get<double>()) {
          best = {{"covered", pct > 0}, {"coveredPercent", pct}, {"coveredBy", {{"kind", "contract"}, {"id", id}}}};
        }
      }
    }
    return best;
  };

  json lines = json::array();
  json totals = {{"partsAmount", 0.0},      {"partsCoveredAmount", 0.0}, {"partsBillableAmount", 0.0},
                 {"laborHours", 0.0},       {"laborCoveredHours", 0.0},  {"laborBillableHours", 0.0},
                 {"laborAmount", nullptr},  {"laborCoveredAmount", nullptr}, {"laborBillableAmount", nullptr}};
  if (consumption.contains("parts") && consumption["parts"].is_array()) {
    std::size_t index = 0;
    for (const auto& part : consumption["parts"]) {
      const std::string pn = str(part, "partNumber");
      const double qty = num(part, "quantity");
      json line = bestCover("parts", pn, "partNumbers");
      json unitPrice = nullptr;
      if (auto catalog = store.referenceData().reference(storage::ReferenceKind::part, pn);
          catalog && (*catalog)["unitPrice"].is_number()) {
        unitPrice = (*catalog)["unitPrice"];
      }
      line["line"] = "parts";
      line["index"] = index++;
      line["partNumber"] = pn;
      line["quantity"] = qty;
      line["unitPrice"] = unitPrice;
      if (unitPrice.is_number()) {
        const double amount = cents(unitPrice.get<double>() * qty);
        const double covered = cents(amount * line["coveredPercent"].get<double>() / 100.0);
        line["amount"] = amount;
        line["coveredAmount"] = covered;
        line["billableAmount"] = cents(amount - covered);
        totals["partsAmount"] = cents(totals["partsAmount"].get<double>() + amount);
        totals["partsCoveredAmount"] = cents(totals["partsCoveredAmount"].get<double>() + covered);
        totals["partsBillableAmount"] = cents(totals["partsBillableAmount"].get<double>() + amount - covered);
      } else {
        line["amount"] = nullptr;  // not in the cached catalog: priced by the back office
        line["coveredAmount"] = nullptr;
        line["billableAmount"] = nullptr;
      }
      lines.push_back(std::move(line));
    }
  }
  if (consumption.contains("labor") && consumption["labor"].is_array()) {
    std::size_t index = 0;
    bool allPriced = true;
    double amountSum = 0, coveredSum = 0;
    for (const auto& labor : consumption["labor"]) {
      const std::string type = str(labor, "laborType");
      const double hours = num(labor, "hours");
      json line = bestCover("labor", type, "laborTypes");
      const double pct = line["coveredPercent"].get<double>();
      line["line"] = "labor";
      line["index"] = index++;
      line["laborType"] = type;
      line["hours"] = hours;
      totals["laborHours"] = totals["laborHours"].get<double>() + hours;
      totals["laborCoveredHours"] = totals["laborCoveredHours"].get<double>() + hours * pct / 100.0;
      totals["laborBillableHours"] = totals["laborBillableHours"].get<double>() + hours * (100.0 - pct) / 100.0;
      if (auto rate = settings.laborRates.find(type); rate != settings.laborRates.end()) {
        const double amount = cents(rate->second * hours);
        const double covered = cents(amount * pct / 100.0);
        line["unitPrice"] = rate->second;
        line["amount"] = amount;
        line["coveredAmount"] = covered;
        line["billableAmount"] = cents(amount - covered);
        amountSum += amount;
        coveredSum += covered;
      } else {
        allPriced = false;
        line["unitPrice"] = nullptr;
        line["amount"] = nullptr;
        line["coveredAmount"] = nullptr;
        line["billableAmount"] = nullptr;
      }
      lines.push_back(std::move(line));
    }
    if (allPriced && index > 0) {
      totals["laborAmount"] = cents(amountSum);
      totals["laborCoveredAmount"] = cents(coveredSum);
      totals["laborBillableAmount"] = cents(amountSum - coveredSum);
    }
  }
  return {{"lines", lines}, {"totals", totals}, {"currency", settings.currency}};
}

json invoiceSummary(const std::string& workOrderId, const std::vector<json>& classifications,
                    const CoverageSettings& settings) {
  json covered = json::array();
  json billable = json::array();
  double partsCovered = 0, partsBillable = 0, hoursCovered = 0, hoursBillable = 0;
  double laborCovered = 0, laborBillable = 0;
  bool laborPriced = true;  // every labor line had a rate
  for (const auto& c : classifications) {
    for (const auto& line : c.value("lines", json::array())) {
      (line.value("covered", false) && line.value("coveredPercent", 0.0) >= 100.0 ? covered : billable).push_back(line);
    }
    const json& t = c.value("totals", json::object());
    partsCovered += t.value("partsCoveredAmount", 0.0);
    partsBillable += t.value("partsBillableAmount", 0.0);
    hoursCovered += t.value("laborCoveredHours", 0.0);
    hoursBillable += t.value("laborBillableHours", 0.0);
    if (t.contains("laborCoveredAmount") && t["laborCoveredAmount"].is_number()) {
      laborCovered += t["laborCoveredAmount"].get<double>();
      laborBillable += t["laborBillableAmount"].get<double>();
    } else if (t.value("laborHours", 0.0) > 0) {
      laborPriced = false;
    }
  }
  auto amount = [&](double v) { return laborPriced ? json(cents(v)) : json(nullptr); };
  return {{"workOrderId", workOrderId},
          {"currency", settings.currency},
          {"coveredLines", covered},
          {"billableLines", billable},
          {"totals",
           {{"partsCoveredAmount", cents(partsCovered)},
            {"partsBillableAmount", cents(partsBillable)},
            {"laborCoveredHours", hoursCovered},
            {"laborBillableHours", hoursBillable},
            {"laborCoveredAmount", amount(laborCovered)},
            {"laborBillableAmount", amount(laborBillable)},
            {"billableAmount", amount(partsBillable + laborBillable)}}}};
}

}  // namespace fieldagent::sync
