#include "generator.hpp"

#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <string_view>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"
#include "prng.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

namespace {

struct City {
  const char* city;
  const char* region;
  int postalBase;
};
constexpr std::array<City, 10> kCities = {{{"Atlanta", "GA", 30301},
                                           {"Charlotte", "NC", 28201},
                                           {"Nashville", "TN", 37201},
                                           {"Birmingham", "AL", 35201},
                                           {"Orlando", "FL", 32801},
                                           {"Savannah", "GA", 31401},
                                           {"Chattanooga", "TN", 37401},
                                           {"Greenville", "SC", 29601},
                                           {"Jacksonville", "FL", 32201},
                                           {"Raleigh", "NC", 27601}}};
constexpr std::array<std::string_view, 12> kStreets = {
    "Peachtree St", "Industrial Pkwy", "Commerce Dr",     "Market St",     "Riverside Ave", "Technology Way",
    "Harbor Rd",    "Maple Ave",       "Distribution Ct", "Research Blvd", "Old Mill Rd",   "Lakeview Dr"};
constexpr std::array<std::string_view, 12> kCompanyFirst = {"Summit",   "Peachtree", "Riverside", "Blue Ridge",
                                                            "Harbor",   "Pioneer",   "Keystone",  "Northstar",
                                                            "Magnolia", "Cypress",   "Ironwood",  "Palmetto"};
constexpr std::array<std::string_view, 12> kCompanySecond = {
    "Cold Storage",  "Medical Center", "Hotels",      "Foods",   "Data Center", "Logistics",
    "Manufacturing", "Schools",        "Office Park", "Grocers", "Labs",        "Arena"};
constexpr std::array<std::string_view, 12> kFirstNames = {"Sam",    "Lee",   "Avery", "Morgan", "Riley",  "Casey",
                                                          "Taylor", "Jamie", "Drew",  "Quinn",  "Parker", "Rowan"};
constexpr std::array<std::string_view, 12> kLastNames = {"Okafor",  "Nguyen",    "Patel",   "Kowalski",
                                                         "Haddad",  "Lindqvist", "Moreau",  "Tanaka",
                                                         "Brennan", "Costa",     "Adeyemi", "Novak"};
constexpr std::array<std::string_view, 8> kSkills = {"hvac",       "refrigeration", "chillers",   "boilers",
                                                     "electrical", "controls",      "generators", "ice-machines"};

struct Model {
  const char* name;
  const char* manufacturer;
  std::vector<std::string> problems;
};
const std::vector<Model>& models() {
  static const std::vector<Model> table = {{"Chiller CX400", "Arctis", {"NO_COOL", "LEAK", "NOISE", "ALARM", "PM"}},
                                           {"Rooftop Unit RTU-12", "Thermodyne", {"NO_COOL", "NO_HEAT", "NOISE", "PM"}},
                                           {"Boiler BX200", "Heatwell", {"NO_HEAT", "LEAK", "ALARM", "PM"}},
                                           {"Air Handler AH-7", "Thermodyne", {"NOISE", "NO_POWER", "PM"}},
                                           {"Ice Machine IM-350", "Polarline", {"ICE_BUILDUP", "LEAK", "NO_POWER"}},
                                           {"Walk-in Freezer WF-90", "Polarline", {"NO_COOL", "ICE_BUILDUP", "ALARM"}},
                                           {"Heat Pump HP-24", "Arctis", {"NO_HEAT", "NO_COOL", "NOISE"}},
                                           {"Generator GX-60", "Heatwell", {"NO_POWER", "ALARM", "PM"}}};
  return table;
}

struct Problem {
  std::vector<std::string> descriptions;
  std::string checkItem;
  std::string resolution;
};
const std::map<std::string, Problem>& problems() {
  static const std::map<std::string, Problem> table = {
      {"NO_COOL",
       {{"Unit not cooling; alarms present", "Not reaching set point", "Warm air from supply vents"},
        "Record suction and discharge pressures",
        "Replaced failed run capacitor and cleaned condenser coil"}},
      {"NO_HEAT",
       {{"No heat in east wing", "Burner fails to light", "Heat intermittent overnight"},
        "Check igniter and flame sensor",
        "Replaced hot surface igniter; verified flame signal"}},
      {"LEAK",
       {{"Water pooling under unit", "Refrigerant leak suspected", "Condensate overflow"},
        "Leak-test all brazed joints",
        "Cleared condensate line and replaced drain pan gasket"}},
      {"NOISE",
       {{"Loud rattling at start-up", "Squealing belt", "Vibration in mechanical room"},
        "Inspect belt tension and bearings",
        "Replaced worn belt and tightened motor mount"}},
      {"ALARM",
       {{"High head pressure alarm", "Controller fault code E4", "Low water alarm on panel"},
        "Download controller fault log",
        "Reset controller after replacing faulty temperature sensor"}},
      {"NO_POWER",
       {{"Unit dead; breaker trips", "No display on controller", "Fails to start"},
        "Measure supply voltage at disconnect",
        "Replaced burnt contactor; verified amperage"}},
      {"ICE_BUILDUP",
       {{"Ice forming on evaporator", "Door frame icing up", "Ice bridge in bin"},
        "Verify defrost cycle timing",
        "Replaced door gasket and reset defrost timer"}},
      {"PM",
       {{"Quarterly preventive maintenance", "Annual inspection due", "Seasonal start-up"},
        "Complete PM checklist per contract",
        "Preventive maintenance completed; filters replaced"}}};
  return table;
}

struct Part {
  const char* partNumber;
  const char* description;
  const char* uom;
  bool serialized;
  double unitPrice;
};
// FILTER-XL is the 14th part so that it sits in wh_01 bin A-14 as in the seed example.
constexpr std::array<Part, 24> kParts = {{{"FILTER-M", "Medium Air Filter", "EA", false, 18.5},
                                          {"BELT-A42", "V-Belt A42", "EA", false, 12.75},
                                          {"CAP-45-5", "Run Capacitor 45/5 uF", "EA", false, 24.0},
                                          {"CONTACTOR-2P", "Contactor 2-pole 40A", "EA", false, 39.9},
                                          {"COMP-SCROLL-5T", "Scroll Compressor 5 ton", "EA", true, 1450.0},
                                          {"FAN-MOTOR-05", "Condenser Fan Motor 1/2 HP", "EA", true, 289.0},
                                          {"REFRIG-R410A", "Refrigerant R-410A", "LB", false, 14.2},
                                          {"COPPER-38", "Copper Line 3/8 in", "FT", false, 2.8},
                                          {"THERMOSTAT-PRO", "Programmable Thermostat", "EA", true, 165.0},
                                          {"SENSOR-TEMP", "Temperature Sensor 10k", "EA", false, 27.5},
                                          {"VALVE-TXV-3T", "Thermal Expansion Valve 3 ton", "EA", false, 112.0},
                                          {"PUMP-COND", "Condensate Pump", "EA", false, 74.0},
                                          {"IGNITER-HSI", "Hot Surface Igniter", "EA", false, 45.0},
                                          {"FILTER-XL", "XL Air Filter", "EA", false, 32.0},
                                          {"FLAME-SENSOR", "Flame Sensor Rod", "EA", false, 19.0},
                                          {"GASKET-DOOR", "Freezer Door Gasket", "EA", false, 58.0},
                                          {"RELAY-24V", "Control Relay 24 V", "EA", false, 21.0},
                                          {"FUSE-30A", "Fuse 30 A Time-Delay", "EA", false, 6.5},
                                          {"CTRL-BOARD-CX", "Controller Board CX Series", "EA", true, 640.0},
                                          {"DRIER-164", "Filter Drier 16 cu in", "EA", false, 23.0},
                                          {"BEARING-6203", "Ball Bearing 6203", "EA", false, 9.8},
                                          {"COIL-CLEANER", "Coil Cleaner Concentrate", "GAL", false, 29.0},
                                          {"WATER-VALVE", "Inlet Water Valve", "EA", false, 66.0},
                                          {"DEFROST-TIMER", "Defrost Timer 24 h", "EA", false, 48.0}}};

constexpr std::array<std::string_view, 6> kPriorities = {"low", "medium", "medium", "high", "high", "urgent"};

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;

std::string iso(std::int64_t unix) { return isoFromUnix(unix); }

// Rounds down to the minute: real schedules are not second-precise.
std::int64_t minute(std::int64_t unix) { return unix - unix % 60; }

json address(const std::string& line1, const City& c, int postal) {
  return {{"line1", line1},
          {"city", c.city},
          {"region", c.region},
          {"postalCode", std::to_string(postal)},
          {"country", "US"}};
}

std::string uniqueId(SplitMix64& rng, const std::string& prefix, int digits, std::set<std::string>& taken) {
  for (;;) {
    std::string id = prefix + rng.hex(digits);
    if (taken.insert(id).second) return id;
  }
}

struct SiteRec {
  std::string siteId;
  std::string customerId;
  json address;
  std::vector<std::pair<std::string, std::string>> assets;  // assetId, model
  std::vector<std::string> serials;
};

}  // namespace

std::vector<std::string> generateData(Database& db, const std::filesystem::path& uploadsDir, std::int64_t workOrders,
                                      int technicianCount) {
  // Seeded from the value itself, so `--seed 10000` is the same data on every machine.
  SplitMix64 rng(static_cast<std::uint64_t>(workOrders) * 0x9e3779b97f4a7c15ULL + 0x1f92a0);
  const std::int64_t anchor = unixFromIso("2026-01-21T09:30:00Z");  // the seed example's updatedAt
  std::set<std::string> taken = {"wo_1f92a0", "wo_0c3d55"};

  // Technicians and their vans.
  std::vector<std::string> techIds;
  for (int i = 0; i < technicianCount; ++i) {
    std::string id = i == 0 ? std::string("tech_45af1d") : uniqueId(rng, "tech_", 6, taken);
    taken.insert(id);
    std::string name = i == 0 ? std::string("Jordan Reyes")
                              : std::string(rng.pick(kFirstNames)) + " " + std::string(rng.pick(kLastNames));
    json skills = i == 0 ? json{"hvac", "refrigeration", "chillers"} : json::array();
    if (i != 0) {
      std::set<std::string> s;
      const auto n = rng.between(2, 3);
      while (static_cast<std::int64_t>(s.size()) < n) s.insert(std::string(rng.pick(kSkills)));
      for (const auto& k : s) skills.push_back(k);
    }
    json doc = {{"technicianId", id}, {"name", name}, {"vanWarehouseId", "van_" + id.substr(5)}, {"skills", skills}};
    db.write("INSERT INTO technicians(technician_id, doc) VALUES(?, ?)", id, doc.dump());
    techIds.push_back(id);
  }

  // Parts catalog and stock: the main warehouse holds everything, each van a handful.
  const std::string partsUpdated = "2025-12-01T08:00:00Z";
  for (const Part& p : kParts) {
    json doc = {{"partNumber", p.partNumber}, {"description", p.description}, {"uom", p.uom},
                {"serialized", p.serialized}, {"unitPrice", p.unitPrice},     {"updatedAt", partsUpdated}};
    db.write("INSERT INTO parts(part_number, updated_at, doc) VALUES(?, ?, ?)", p.partNumber, partsUpdated, doc.dump());
  }
  auto stock = [&](const std::string& warehouse, const std::string& part, const std::string& bin, double qty,
                   std::int64_t updated) {
    db.write("INSERT OR REPLACE INTO inventory(warehouse_id, part_number, bin, quantity, updated_at) VALUES(?,?,?,?,?)",
             warehouse, part, bin, qty, iso(updated));
  };
  for (std::size_t i = 0; i < kParts.size(); ++i) {
    const std::string bin = (i + 1 < 10 ? "A-0" : "A-") + std::to_string(i + 1);
    stock("wh_01", kParts[i].partNumber, bin, static_cast<double>(rng.between(5, 120)),
          minute(anchor - rng.between(kHour, 40 * kDay)));
  }
  for (const std::string& tech : techIds) {
    const std::string van = "van_" + tech.substr(5);
    std::set<std::size_t> chosen;
    if (tech == "tech_45af1d") chosen.insert(13);  // FILTER-XL on the seed technician's van too
    while (chosen.size() < 8) chosen.insert(static_cast<std::size_t>(rng.below(kParts.size())));
    for (std::size_t idx : chosen) {
      stock(van, kParts[idx].partNumber, "VAN", static_cast<double>(rng.between(1, 10)),
            minute(anchor - rng.between(kHour, 20 * kDay)));
    }
  }

  // Customers, their sites and installed assets, and one contract each.
  const std::int64_t customerCount = std::max<std::int64_t>(3, workOrders / 25);
  std::vector<std::string> customerIds;
  std::map<std::string, std::vector<SiteRec>> sitesOf;
  int siteCounter = 2202;
  int assetCounter = 0x9a02;
  for (std::int64_t c = 0; c < customerCount; ++c) {
    const bool seedCustomer = c == 0;
    std::string customerId = seedCustomer ? std::string("cust_88b32e") : uniqueId(rng, "cust_", 6, taken);
    taken.insert(customerId);
    std::string name = seedCustomer
                           ? std::string("Eastside Medical Center")
                           : std::string(rng.pick(kCompanyFirst)) + " " + std::string(rng.pick(kCompanySecond));
    const City& home = seedCustomer ? kCities[0] : rng.pick(kCities);
    const std::int64_t customerUpdated = minute(anchor - rng.between(kDay, 300 * kDay));
    std::vector<SiteRec> sites;
    const auto siteCount = rng.between(1, 3);
    for (std::int64_t s = 0; s < siteCount; ++s) {
      SiteRec site;
      site.customerId = customerId;
      if (seedCustomer && s == 0) {
        site.siteId = "site_2201";
        site.address = address("500 Eastside Blvd", kCities[0], 30312);
      } else {
        site.siteId = "site_" + std::to_string(siteCounter++);
        const City& city = rng.chance(0.7) ? home : rng.pick(kCities);
        site.address = address(std::to_string(rng.between(10, 9999)) + " " + std::string(rng.pick(kStreets)), city,
                               city.postalBase + static_cast<int>(rng.below(90)));
      }
      const auto assetCount = rng.between(1, 3);
      for (std::int64_t a = 0; a < assetCount; ++a) {
        const bool seedAsset = seedCustomer && s == 0 && a == 0;
        const Model& model = seedAsset ? models()[0] : rng.pick(models());
        char buf[32];
        static_cast<void>(std::snprintf(buf, sizeof buf, "asset_%x", assetCounter++));
        std::string assetId = seedAsset ? std::string("asset_9a01") : std::string(buf);
        static_cast<void>(std::snprintf(buf, sizeof buf, "SN-%05d%c", static_cast<int>(rng.between(10000, 99999)),
                                        static_cast<char>('A' + rng.below(26))));
        std::string serial = seedAsset ? std::string("SN-44728A") : std::string(buf);
        const std::int64_t installed = minute(anchor - rng.between(200 * kDay, kDay * 365 * 7));
        const std::int64_t warrantyYears = rng.between(1, 5);
        json coverage = rng.chance(0.6) ? json{"parts", "labor"} : json{"parts"};
        json doc = {
            {"assetId", assetId},
            {"serialNumber", serial},
            {"model", model.name},
            {"manufacturer", model.manufacturer},
            {"customerId", customerId},
            {"siteId", site.siteId},
            {"installedAt", iso(installed)},
            {"warranty",
             {{"start", iso(installed)}, {"end", iso(installed + warrantyYears * 365 * kDay)}, {"coverage", coverage}}},
            {"updatedAt", iso(std::max(installed, minute(anchor - rng.between(kDay, 200 * kDay))))}};
        db.write("INSERT INTO assets(asset_id, site_id, customer_id, updated_at, doc) VALUES(?, ?, ?, ?, ?)", assetId,
                 site.siteId, customerId, doc["updatedAt"].get<std::string>(), doc.dump());
        site.assets.emplace_back(assetId, model.name);
        site.serials.push_back(serial);
      }
      json siteDoc = {{"siteId", site.siteId},
                      {"customerId", customerId},
                      {"name", name + (s == 0 ? std::string(" — Main") : " — Site " + std::to_string(s + 1))},
                      {"address", site.address},
                      {"updatedAt", iso(customerUpdated)}};
      db.write("INSERT INTO sites(site_id, customer_id, updated_at, doc) VALUES(?, ?, ?, ?)", site.siteId, customerId,
               iso(customerUpdated), siteDoc.dump());
      sites.push_back(std::move(site));
    }
    json customerDoc = {{"customerId", customerId},
                        {"name", name},
                        {"accountNumber", "AC-" + std::to_string(100000 + c)},
                        {"phone", "+1-404-555-" + std::to_string(1000 + rng.below(9000))},
                        {"email", "facilities@" + customerId.substr(5) + ".example"},
                        {"billingAddress", sites.front().address},
                        {"updatedAt", iso(customerUpdated)}};
    db.write("INSERT INTO customers(customer_id, updated_at, doc) VALUES(?, ?, ?)", customerId, iso(customerUpdated),
             customerDoc.dump());

    static constexpr std::array<std::string_view, 5> kTypes = {"full_service", "full_service", "parts_only",
                                                               "labor_only", "time_and_materials"};
    const std::string type = seedCustomer ? std::string("full_service") : std::string(rng.pick(kTypes));
    json entitlements = json::array();
    if (type == "full_service" || type == "parts_only") {
      json parts = seedCustomer ? json{"FILTER-XL", "BELT-A42", "CAP-45-5"} : json(nullptr);
      entitlements.push_back(
          {{"appliesTo", "parts"}, {"partNumbers", parts}, {"laborTypes", nullptr}, {"coveredPercent", 100}});
    }
    if (type == "full_service" || type == "labor_only") {
      entitlements.push_back({{"appliesTo", "labor"},
                              {"partNumbers", nullptr},
                              {"laborTypes", json{"regular"}},
                              {"coveredPercent", type == "full_service" ? 100 : 80}});
    }
    if (type == "time_and_materials") {
      entitlements.push_back(
          {{"appliesTo", "labor"}, {"partNumbers", nullptr}, {"laborTypes", json{"travel"}}, {"coveredPercent", 50}});
    }
    json assetIds = json::array();
    for (const auto& site : sites) {
      for (const auto& [assetId, model] : site.assets) assetIds.push_back(assetId);
    }
    const std::int64_t responseHours = type == "full_service" ? 4 : 24;
    json contract = {{"contractId", "ctr_" + std::to_string(5510 + c)},
                     {"customerId", customerId},
                     {"type", type},
                     {"start", "2025-01-01T00:00:00Z"},
                     {"end", seedCustomer || rng.chance(0.8) ? "2026-12-31T23:59:59Z" : "2025-12-31T23:59:59Z"},
                     {"sla", {{"responseHours", responseHours}, {"resolutionHours", responseHours * 6}}},
                     {"entitlements", entitlements},
                     {"assetIds", assetIds},
                     {"updatedAt", iso(customerUpdated)}};
    db.write("INSERT INTO contracts(contract_id, customer_id, updated_at, doc) VALUES(?, ?, ?, ?)",
             contract["contractId"].get<std::string>(), customerId, iso(customerUpdated), contract.dump());
    customerIds.push_back(customerId);
    sitesOf[customerId] = std::move(sites);
  }

  // Work orders: the seed's example first, then one finished job on its asset (its service
  // history), then the generated rest.
  int numberCounter = 1000;
  auto nextNumber = [&] {
    std::string n;
    do {
      n = "WO-2026-" + std::to_string(numberCounter++);
    } while (n == "WO-2026-1045");
    return n;
  };
  auto checklist = [&](const std::string& problem, bool answered) {
    const Problem& p = problems().at(problem);
    json items = json::array();
    const std::array<std::pair<std::string, bool>, 4> texts = {
        std::pair{std::string("Confirm safety lockout"), true},
        std::pair{std::string("Record readings before work"), true}, std::pair{p.checkItem, false},
        std::pair{std::string("Walk customer through the fix"), false}};
    int i = 1;
    for (const auto& [text, required] : texts) {
      items.push_back({{"itemId", "chk_" + std::to_string(i++)},
                       {"text", text},
                       {"required", required},
                       {"answer", answered ? json("yes") : json(nullptr)}});
    }
    return items;
  };

  for (std::int64_t i = 0; i < workOrders; ++i) {
    json doc;
    std::optional<std::string> completedAt;
    std::optional<std::string> resolution;
    if (i == 0) {
      doc = {{"workOrderId", "wo_1f92a0"},
             {"number", "WO-2026-1045"},
             {"status", "scheduled"},
             {"priority", "high"},
             {"customerId", "cust_88b32e"},
             {"site", {{"siteId", "site_2201"}, {"address", address("500 Eastside Blvd", kCities[0], 30312)}}},
             {"asset", {{"assetId", "asset_9a01"}, {"serialNumber", "SN-44728A"}, {"model", "Chiller CX400"}}},
             {"problemCode", "NO_COOL"},
             {"description", "Chiller not cooling; alarms present"},
             {"reportedAt", "2026-01-20T13:45:00Z"},
             {"slaDueAt", "2026-01-21T17:00:00Z"},
             {"appointmentWindow", {{"start", "2026-01-21T13:00:00Z"}, {"end", "2026-01-21T17:00:00Z"}}},
             {"assignedTechnicianIds", json{"tech_45af1d"}},
             {"updatedAt", "2026-01-21T09:30:00Z"},
             {"checklist", checklist("NO_COOL", false)},
             {"notes", json::array()}};
    } else if (i == 1) {
      doc = {{"workOrderId", "wo_0c3d55"},
             {"number", "WO-2025-0871"},
             {"status", "completed"},
             {"priority", "medium"},
             {"customerId", "cust_88b32e"},
             {"site", {{"siteId", "site_2201"}, {"address", address("500 Eastside Blvd", kCities[0], 30312)}}},
             {"asset", {{"assetId", "asset_9a01"}, {"serialNumber", "SN-44728A"}, {"model", "Chiller CX400"}}},
             {"problemCode", "PM"},
             {"description", "Quarterly preventive maintenance"},
             {"reportedAt", "2025-07-10T08:00:00Z"},
             {"slaDueAt", "2025-07-17T17:00:00Z"},
             {"appointmentWindow", {{"start", "2025-07-14T08:00:00Z"}, {"end", "2025-07-14T12:00:00Z"}}},
             {"assignedTechnicianIds", json{"tech_45af1d"}},
             {"updatedAt", "2025-07-14T11:20:00Z"},
             {"checklist", checklist("PM", true)},
             {"notes", json::array({{{"text", "Filters replaced, coil cleaned"},
                                     {"createdAt", "2025-07-14T11:15:00Z"},
                                     {"author", "Jordan Reyes"}}})}};
      completedAt = "2025-07-14T11:20:00Z";
      resolution = problems().at("PM").resolution;
    } else {
      const std::string& customerId = customerIds[static_cast<std::size_t>(rng.below(customerIds.size()))];
      const auto& sites = sitesOf[customerId];
      const SiteRec& site = sites[static_cast<std::size_t>(rng.below(sites.size()))];
      const auto assetIndex = static_cast<std::size_t>(rng.below(site.assets.size()));
      const auto& [assetId, modelName] = site.assets[assetIndex];
      const Model* model = &models()[0];
      for (const Model& m : models()) {
        if (modelName == m.name) model = &m;
      }
      const std::string& problem = rng.pick(model->problems);
      const std::int64_t reported = minute(anchor - rng.between(2 * kHour, 110 * kDay));
      const double roll = rng.unit();
      const std::string status = roll < 0.15   ? "open"
                                 : roll < 0.50 ? "scheduled"
                                 : roll < 0.55 ? "en_route"
                                 : roll < 0.65 ? "on_site"
                                 : roll < 0.95 ? "completed"
                                               : "cancelled";
      const std::int64_t slaHours = std::array<std::int64_t, 4>{8, 24, 48, 72}[static_cast<std::size_t>(rng.below(4))];
      const std::int64_t updated = reported + rng.between(0, anchor - reported);
      json window = nullptr;
      json techs = json::array();
      if (status != "open") {
        const std::int64_t start = reported + kHour * rng.between(2, 48);
        window = {{"start", iso(start - start % 3600)}, {"end", iso(start - start % 3600 + 4 * kHour)}};
        techs.push_back(techIds[static_cast<std::size_t>(rng.below(techIds.size()))]);
        if (techIds.size() > 1 && rng.chance(0.1)) {
          const std::string& second = techIds[static_cast<std::size_t>(rng.below(techIds.size()))];
          if (second != techs[0]) techs.push_back(second);
        }
      }
      std::string number = nextNumber();
      doc = {{"workOrderId", uniqueId(rng, "wo_", 6, taken)},
             {"number", number},
             {"status", status},
             {"priority", std::string(rng.pick(kPriorities))},
             {"customerId", customerId},
             {"site", {{"siteId", site.siteId}, {"address", site.address}}},
             {"asset", {{"assetId", assetId}, {"serialNumber", site.serials[assetIndex]}, {"model", modelName}}},
             {"problemCode", problem},
             {"description", rng.pick(problems().at(problem).descriptions)},
             {"reportedAt", iso(reported)},
             {"slaDueAt", iso(reported + slaHours * kHour)},
             {"appointmentWindow", window},
             {"assignedTechnicianIds", techs},
             {"updatedAt", iso(updated)},
             {"checklist", checklist(problem, status == "completed")},
             {"notes", json::array()}};
      if (status == "completed") {
        completedAt = iso(updated);
        resolution = problems().at(problem).resolution;
      }
    }
    writeWorkOrderRow(db, doc, 1, completedAt, resolution);
  }

  // The completed signature upload that the seed's consumption example names (upl_7fa223).
  const std::string signature =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"240\" height=\"80\"><path d=\"M10 60 C 40 10, 70 90, 100 40 "
      "S 160 20, 230 50\" stroke=\"black\" fill=\"none\" stroke-width=\"2\"/></svg>\n";
  auto written = platform::fs::atomicWrite(uploadsDir / "att_3c9e01.bin", signature, 0600);
  if (!written) throw SqlError("cannot write the seed signature: " + written.error().message);
  db.write(
      "INSERT INTO attachments(attachment_id, work_order_id, upload_token, kind, file_name, content_type, size_bytes, "
      "sha256, captured_at, offset, status, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
      "att_3c9e01", "wo_1f92a0", "upl_7fa223", "signature", "signature-dana-harris.svg", "image/svg+xml",
      static_cast<std::int64_t>(signature.size()), platform::hexEncode(platform::sha256(signature)),
      "2026-01-21T17:35:00Z", static_cast<std::int64_t>(signature.size()), "available", "2026-01-21T09:00:00Z");
  return techIds;
}

}  // namespace fieldagent::sim
