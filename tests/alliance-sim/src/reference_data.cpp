// Reference data: customers, sites, assets, contracts, parts, inventory, technicians.
#include <cmath>
#include <functional>

#include "simulator.hpp"

namespace fieldagent::sim {

namespace {

struct Listing {
  std::string table;
  std::string columns;  // what toJson reads
  std::string orderBy;
  std::vector<std::pair<std::string, std::string>> filters;  // query parameter, column
  bool updatedFilter = true;
  std::function<json(const Statement&)> toJson;
};

json docColumn(const Statement& st) { return json::parse(st.text(0)); }

// Whole quantities print as integers (2, not 2.0), as the seed writes them.
json quantity(double q) {
  if (std::floor(q) == q && std::fabs(q) < 9e15) return static_cast<std::int64_t>(q);
  return q;
}

HttpReply listRows(Database& db, const Simulator::Request& req, const Listing& l) {
  const Page page = req.page();
  std::string where = " WHERE 1=1";
  std::vector<std::string> binds;
  for (const auto& [param, column] : l.filters) {
    if (auto v = req.param(param)) {
      where += " AND " + column + " = ?";
      binds.push_back(*v);
    }
  }
  if (l.updatedFilter) {
    if (auto from = req.timeParam("updatedFrom")) {
      where += " AND updated_at >= ?";
      binds.push_back(*from);
    }
    if (auto to = req.timeParam("updatedTo")) {
      where += " AND updated_at <= ?";
      binds.push_back(*to);
    }
  }
  auto count = db.prepare("SELECT COUNT(*) FROM " + l.table + where);
  for (std::size_t i = 0; i < binds.size(); ++i) count->bind(static_cast<int>(i + 1), binds[i]);
  count->step();
  const std::int64_t total = count->integer(0);
  auto rows =
      db.prepare("SELECT " + l.columns + " FROM " + l.table + where + " ORDER BY " + l.orderBy + " LIMIT ? OFFSET ?");
  int index = 1;
  for (const auto& b : binds) rows->bind(index++, b);
  rows->bind(index++, page.pageSize);
  rows->bind(index, page.offset());
  json items = json::array();
  while (rows->step()) items.push_back(l.toJson(*rows));
  return jsonReply(200, pageBody(std::move(items), page, total));
}

}  // namespace

HttpReply Simulator::referenceData(Request& req) {
  const auto& s = req.segments;
  const std::string& root = s[0];
  auto one = [&](const std::string& sql, const std::string& id, const std::string& what) {
    Statement& st = db_->run(sql, id);
    if (!st.step()) throw HttpError{404, "not_found", "no " + what + " " + id};
    return json::parse(st.text(0));
  };

  if (root == "customers") {
    requireEntitlement(req, "customers");
    if (s.size() == 2) return jsonReply(200, one("SELECT doc FROM customers WHERE customer_id = ?", s[1], "customer"));
    if (s.size() == 1) return listRows(*db_, req, {"customers", "doc", "customer_id", {}, true, docColumn});
  } else if (root == "sites" && s.size() == 1) {
    requireEntitlement(req, "customers");
    return listRows(*db_, req, {"sites", "doc", "site_id", {{"customerId", "customer_id"}}, true, docColumn});
  } else if (root == "assets") {
    requireEntitlement(req, "customers");
    if (s.size() == 2) {
      json asset = one("SELECT doc FROM assets WHERE asset_id = ?", s[1], "asset");
      json history = json::array();
      Statement& st = db_->run(
          "SELECT work_order_id, completed_at, json_extract(doc, '$.problemCode'), resolution FROM work_orders "
          "WHERE asset_id = ? AND status = 'completed' ORDER BY completed_at DESC, work_order_id LIMIT 50",
          s[1]);
      while (st.step()) {
        history.push_back({{"workOrderId", st.text(0)},
                           {"completedAt", st.text(1)},
                           {"problemCode", st.text(2)},
                           {"resolution", st.isNull(3) ? json(nullptr) : json(st.text(3))}});
      }
      asset["serviceHistory"] = history;
      return jsonReply(200, asset);
    }
    if (s.size() == 1) {
      return listRows(
          *db_, req,
          {"assets", "doc", "asset_id", {{"customerId", "customer_id"}, {"siteId", "site_id"}}, true, docColumn});
    }
  } else if (root == "contracts" && s.size() == 1) {
    requireEntitlement(req, "customers");
    return listRows(*db_, req, {"contracts", "doc", "contract_id", {{"customerId", "customer_id"}}, true, docColumn});
  } else if (root == "parts" && s.size() == 1) {
    requireEntitlement(req, "inventory");
    return listRows(*db_, req, {"parts", "doc", "part_number", {{"partNumber", "part_number"}}, true, docColumn});
  } else if (root == "inventory" && s.size() == 1) {
    requireEntitlement(req, "inventory");
    return listRows(*db_, req,
                    {"inventory",
                     "warehouse_id, part_number, bin, quantity, updated_at",
                     "warehouse_id, part_number, bin",
                     {{"warehouseId", "warehouse_id"}, {"partNumber", "part_number"}},
                     true,
                     [](const Statement& st) {
                       return json{{"warehouseId", st.text(0)},
                                   {"partNumber", st.text(1)},
                                   {"bin", st.text(2)},
                                   {"quantityOnHand", quantity(st.real(3))},
                                   {"updatedAt", st.text(4)}};
                     }});
  } else if (root == "technicians") {
    authenticate(req);
    if (s.size() == 2) {
      return jsonReply(200, one("SELECT doc FROM technicians WHERE technician_id = ?", s[1], "technician"));
    }
    if (s.size() == 1) return listRows(*db_, req, {"technicians", "doc", "technician_id", {}, false, docColumn});
  }
  throw HttpError{404, "not_found", "no such path"};
}

}  // namespace fieldagent::sim
