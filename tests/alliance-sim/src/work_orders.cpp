// Work orders: list and detail, status moves, dispatcher edits, assignments, consumptions.
#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

namespace {

constexpr std::array<std::string_view, 6> kStatuses = {"open",    "scheduled", "en_route",
                                                       "on_site", "completed", "cancelled"};
constexpr std::array<std::string_view, 4> kTechnicianStatuses = {"scheduled", "en_route", "on_site", "completed"};
constexpr std::array<std::string_view, 4> kPriorities = {"low", "medium", "high", "urgent"};

template <std::size_t N>
bool among(const std::array<std::string_view, N>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The moves a technician may make (contract: scheduled→en_route→on_site→completed,
// on_site→en_route, and any of those to itself).
bool technicianMayMove(const std::string& from, const std::string& to) {
  if (from == to) return among(kTechnicianStatuses, to);
  return (from == "scheduled" && to == "en_route") || (from == "en_route" && to == "on_site") ||
         (from == "on_site" && to == "completed") || (from == "on_site" && to == "en_route");
}

json listShape(json doc) {
  doc.erase("checklist");
  doc.erase("notes");
  return doc;
}

std::string nowIso(const ServerClock& clock) { return platform::formatIso8601(clock.now()); }

}  // namespace

void writeWorkOrderRow(Database& db, const json& doc, std::int64_t version,
                       const std::optional<std::string>& completedAt, const std::optional<std::string>& resolution) {
  const std::string id = doc["workOrderId"];
  const json& asset = doc["asset"];
  std::optional<std::string> assetId;
  if (asset.is_object() && asset["assetId"].is_string()) assetId = asset["assetId"].get<std::string>();
  std::optional<std::string> sla;
  if (doc["slaDueAt"].is_string()) sla = doc["slaDueAt"].get<std::string>();
  db.write(
      "INSERT INTO work_orders(work_order_id, number, status, customer_id, asset_id, sla_due_at, updated_at, version, "
      "completed_at, resolution, doc) VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(work_order_id) DO UPDATE SET "
      "status = excluded.status, customer_id = excluded.customer_id, asset_id = excluded.asset_id, "
      "sla_due_at = excluded.sla_due_at, updated_at = excluded.updated_at, version = excluded.version, "
      "completed_at = excluded.completed_at, resolution = excluded.resolution, doc = excluded.doc",
      id, doc["number"].get<std::string>(), doc["status"].get<std::string>(), doc["customerId"].get<std::string>(),
      assetId, sla, doc["updatedAt"].get<std::string>(), version, completedAt, resolution, doc.dump());
  if (version > 1) db.write("DELETE FROM work_order_technicians WHERE work_order_id = ?", id);
  for (const auto& tech : doc["assignedTechnicianIds"]) {
    db.write("INSERT OR IGNORE INTO work_order_technicians(technician_id, work_order_id) VALUES(?, ?)",
             tech.get<std::string>(), id);
  }
}

std::optional<Simulator::StoredWorkOrder> Simulator::loadWorkOrder(const std::string& id) {
  Statement& st = db_->run("SELECT doc, version FROM work_orders WHERE work_order_id = ?", id);
  if (!st.step()) return std::nullopt;
  return StoredWorkOrder{json::parse(st.text(0)), st.integer(1)};
}

Simulator::StoredWorkOrder Simulator::requireWorkOrder(const std::string& id) {
  auto wo = loadWorkOrder(id);
  if (!wo) throw HttpError{404, "not_found", "no work order " + id};
  return std::move(*wo);
}

void Simulator::saveWorkOrder(const json& doc, std::int64_t version) {
  std::optional<std::string> completedAt;
  std::optional<std::string> resolution;
  {
    Statement& st = db_->run("SELECT completed_at, resolution FROM work_orders WHERE work_order_id = ?",
                             doc["workOrderId"].get<std::string>());
    if (st.step()) {
      if (!st.isNull(0)) completedAt = st.text(0);
      if (!st.isNull(1)) resolution = st.text(1);
    }
  }
  if (doc["status"] == "completed" && !completedAt) completedAt = doc["updatedAt"].get<std::string>();
  if (doc["status"] != "completed") completedAt.reset();
  writeWorkOrderRow(*db_, doc, version, completedAt, resolution);
}

std::string Simulator::etagFor(const std::string& id, std::int64_t version) const {
  return "\"" + platform::hexEncode(platform::sha256(id + "#" + std::to_string(version))).substr(0, 20) + "\"";
}

HttpReply Simulator::workOrderReply(int status, const StoredWorkOrder& wo) {
  HttpReply r = jsonReply(status, wo.doc);
  r.headers.emplace_back("ETag", etagFor(wo.doc["workOrderId"], wo.version));
  return r;
}

void Simulator::checkIfMatch(const Request& req, const StoredWorkOrder& wo) {
  if (!req.call.hasHeader("if-match")) return;
  const std::string current = etagFor(wo.doc["workOrderId"], wo.version);
  std::string list = req.call.header("if-match");
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string tag = list.substr(pos, comma - pos);
    tag.erase(0, tag.find_first_not_of(" \t"));
    tag.erase(tag.find_last_not_of(" \t") + 1);
    if (tag == "*" || tag == current) return;
    pos = comma + 1;
  }
  throw HttpError{412,
                  "precondition_failed",
                  "the work order changed since the ETag in If-Match",
                  json{{"current", wo.doc}},
                  {{"ETag", current}}};
}

void Simulator::invalidTransition(const StoredWorkOrder& wo, const std::string& message) {
  throw HttpError{409,
                  "invalid_transition",
                  message,
                  json{{"current", wo.doc}},
                  {{"ETag", etagFor(wo.doc["workOrderId"], wo.version)}}};
}

bool Simulator::technicianExists(const std::string& technicianId) {
  return db_->scalar("SELECT 1 FROM technicians WHERE technician_id = ?", technicianId).has_value();
}

HttpReply Simulator::listWorkOrders(Request& req) {
  requireEntitlement(req, "workOrders");
  const Page page = req.page();
  std::string where = " WHERE 1=1";
  std::vector<std::string> binds;
  auto filter = [&](const std::optional<std::string>& value, const std::string& clause) {
    if (!value) return;
    where += " AND " + clause;
    binds.push_back(*value);
  };
  auto status = req.param("status");
  if (status && !among(kStatuses, *status)) {
    throw HttpError{400, "invalid_request",
                    "status must be one of open, scheduled, en_route, on_site, completed, cancelled",
                    json{{"parameter", "status"}}};
  }
  filter(req.param("customerId"), "customer_id = ?");
  filter(status, "status = ?");
  filter(req.timeParam("slaDueFrom"), "sla_due_at >= ?");
  filter(req.timeParam("slaDueTo"), "sla_due_at <= ?");
  filter(req.timeParam("updatedFrom"), "updated_at >= ?");
  filter(req.timeParam("updatedTo"), "updated_at <= ?");
  // With --ignore-query the sim behaves as an upstream that does not know these [ext]
  // parameters: it answers as if they were absent (all work orders, in its natural order).
  const auto& ignored = config_.ignoredWorkOrderQuery;
  auto sort = ignored.count("sort") == 0 ? req.param("sort") : std::nullopt;
  if (sort && *sort != "updatedAt") {
    throw HttpError{400, "invalid_request", "sort supports only updatedAt", json{{"parameter", "sort"}}};
  }
  if (ignored.count("technicianId") == 0) {
    // Sorted by updatedAt, the unary '+' keeps SQLite from driving the query by the technician
    // list: that plan sorts every matching row (documents included) in a temporary B-tree for
    // each page, 0.4 s a page at 85,000 assigned. Walking work_orders_by_update in order and
    // testing membership stops after the page.
    filter(req.param("technicianId"),
           std::string(sort ? "+" : "") +
               "work_order_id IN (SELECT work_order_id FROM work_order_technicians WHERE technician_id = ?)");
  }
  const std::string order = sort ? " ORDER BY updated_at, work_order_id" : " ORDER BY work_order_id";
  auto count = db_->prepare("SELECT COUNT(*) FROM work_orders" + where);
  for (std::size_t i = 0; i < binds.size(); ++i) count->bind(static_cast<int>(i + 1), binds[i]);
  count->step();
  const std::int64_t total = count->integer(0);

  auto rows = db_->prepare("SELECT doc FROM work_orders" + where + order + " LIMIT ? OFFSET ?");
  int index = 1;
  for (const auto& b : binds) rows->bind(index++, b);
  rows->bind(index++, page.pageSize);
  rows->bind(index, page.offset());
  json items = json::array();
  while (rows->step()) items.push_back(listShape(json::parse(rows->text(0))));
  return jsonReply(200, pageBody(std::move(items), page, total));
}

HttpReply Simulator::getWorkOrder(Request& req) {
  requireEntitlement(req, "workOrders");
  return workOrderReply(200, requireWorkOrder(req.segments[1]));
}

HttpReply Simulator::postStatus(Request& req) {
  const SimUser& user = requireEntitlement(req, "workOrders");
  StoredWorkOrder wo = requireWorkOrder(req.segments[1]);
  const json body = req.body();
  const std::string target = check::string(body, "status", "");
  if (!among(kStatuses, target)) {
    throw HttpError{400, "invalid_request",
                    "status must be one of open, scheduled, en_route, on_site, completed, cancelled",
                    json{{"field", "status"}}};
  }
  const auto occurredAt = check::optionalTimestamp(body, "occurredAt", "");
  const auto note = check::optionalString(body, "note", "");
  if (body.contains("location") && !body["location"].is_null()) {
    const json& loc = body["location"];
    if (!loc.is_object())
      throw HttpError{400, "invalid_request", "location must be an object", json{{"field", "location"}}};
    const double lat = check::number(loc, "lat", "location.", -90);
    const double lon = check::number(loc, "lon", "location.", -180);
    if (lat > 90 || lon > 180)
      throw HttpError{400, "invalid_request", "location is out of range", json{{"field", "location"}}};
  }
  checkIfMatch(req, wo);
  const std::string current = wo.doc["status"];
  if (!technicianMayMove(current, target)) {
    invalidTransition(wo, "a technician cannot move a work order from " + current + " to " + target);
  }
  // A move to the current status changes nothing, except that its note is recorded: that is how
  // a technician adds a note (the contract has no notes call).
  if (current == target && (!note || note->empty())) return workOrderReply(200, wo);

  const std::string stamp = changeStamp();
  wo.doc["status"] = target;
  wo.doc["updatedAt"] = stamp;
  if (note && !note->empty()) {
    wo.doc["notes"].push_back({{"text", *note}, {"createdAt", occurredAt.value_or(stamp)}, {"author", user.name}});
  }
  ++wo.version;
  saveWorkOrder(wo.doc, wo.version);
  if (target == "completed" && current != target) {
    db_->write("UPDATE work_orders SET completed_at = ?, resolution = ? WHERE work_order_id = ?",
               occurredAt.value_or(stamp), note.value_or("Completed"), wo.doc["workOrderId"].get<std::string>());
  }
  return workOrderReply(200, wo);
}

HttpReply Simulator::patchWorkOrder(Request& req) {
  requireEntitlement(req, "dispatch");
  StoredWorkOrder wo = requireWorkOrder(req.segments[1]);
  const json body = req.body();
  check::onlyKeys(body, {"status", "priority", "appointmentWindow", "slaDueAt", "assignedTechnicianIds", "description"},
                  "");
  json next = wo.doc;
  if (body.contains("status")) {
    if (body["status"] != "cancelled") {
      throw HttpError{400, "invalid_request",
                      "PATCH can only set status to cancelled; technicians move status through POST .../status",
                      json{{"field", "status"}}};
    }
    next["status"] = "cancelled";
  }
  if (body.contains("priority")) {
    const std::string p = check::string(body, "priority", "");
    if (!among(kPriorities, p)) {
      throw HttpError{400, "invalid_request", "priority must be low, medium, high or urgent",
                      json{{"field", "priority"}}};
    }
    next["priority"] = p;
  }
  if (body.contains("appointmentWindow")) {
    const json& w = body["appointmentWindow"];
    if (w.is_null()) {
      next["appointmentWindow"] = nullptr;
    } else {
      if (!w.is_object()) {
        throw HttpError{400, "invalid_request", "appointmentWindow must be an object or null",
                        json{{"field", "appointmentWindow"}}};
      }
      const std::string start = check::timestamp(w, "start", "appointmentWindow.");
      const std::string end = check::timestamp(w, "end", "appointmentWindow.");
      if (end < start) {
        throw HttpError{400, "invalid_request", "appointmentWindow.end is before its start",
                        json{{"field", "appointmentWindow.end"}}};
      }
      next["appointmentWindow"] = {{"start", start}, {"end", end}};
    }
  }
  if (body.contains("slaDueAt")) next["slaDueAt"] = check::timestamp(body, "slaDueAt", "");
  if (body.contains("description")) {
    if (!body["description"].is_string()) {
      throw HttpError{400, "invalid_request", "description must be a string", json{{"field", "description"}}};
    }
    next["description"] = body["description"];
  }
  if (body.contains("assignedTechnicianIds")) {
    const json& ids = body["assignedTechnicianIds"];
    if (!ids.is_array()) {
      throw HttpError{400, "invalid_request", "assignedTechnicianIds must be an array of technician ids",
                      json{{"field", "assignedTechnicianIds"}}};
    }
    json unique = json::array();
    std::set<std::string> seen;
    for (const auto& id : ids) {
      if (!id.is_string()) {
        throw HttpError{400, "invalid_request", "assignedTechnicianIds must be an array of technician ids",
                        json{{"field", "assignedTechnicianIds"}}};
      }
      if (!technicianExists(id)) {
        throw HttpError{422, "unknown_technician", "no technician " + id.get<std::string>(),
                        json{{"technicianId", id}}};
      }
      if (seen.insert(id).second) unique.push_back(id);
    }
    next["assignedTechnicianIds"] = unique;
    // Keep status and assignment consistent: unassigned work is open, assigned open work is scheduled.
    const std::string s = next["status"];
    if (unique.empty() && (s == "scheduled" || s == "en_route" || s == "on_site")) next["status"] = "open";
    if (!unique.empty() && s == "open") next["status"] = "scheduled";
  }
  checkIfMatch(req, wo);
  const std::string from = wo.doc["status"];
  if (next["status"] == "cancelled" && from == "completed") {
    invalidTransition(wo, "a completed work order cannot be cancelled");
  }
  if (from == "cancelled" && next != wo.doc) invalidTransition(wo, "a cancelled work order cannot be edited");
  if (next == wo.doc) return workOrderReply(200, wo);
  next["updatedAt"] = changeStamp();
  wo.doc = std::move(next);
  ++wo.version;
  saveWorkOrder(wo.doc, wo.version);
  return workOrderReply(200, wo);
}

HttpReply Simulator::postAssignment(Request& req) {
  const SimUser& user = requireEntitlement(req, "dispatch");
  StoredWorkOrder wo = requireWorkOrder(req.segments[1]);
  const json body = req.body();
  const std::string technicianId = check::string(body, "technicianId", "");
  const std::string start = check::timestamp(body, "scheduledStart", "");
  const std::string end = check::timestamp(body, "scheduledEnd", "");
  if (end < start) {
    throw HttpError{400, "invalid_request", "scheduledEnd is before scheduledStart", json{{"field", "scheduledEnd"}}};
  }
  if (body.contains("routeSequence") && !body["routeSequence"].is_null() &&
      !(body["routeSequence"].is_number_integer() && body["routeSequence"].get<std::int64_t>() >= 0)) {
    throw HttpError{400, "invalid_request", "routeSequence must be a non-negative integer",
                    json{{"field", "routeSequence"}}};
  }
  if (body.contains("notifyTechnician") && !body["notifyTechnician"].is_boolean() &&
      !body["notifyTechnician"].is_null()) {
    throw HttpError{400, "invalid_request", "notifyTechnician must be true or false",
                    json{{"field", "notifyTechnician"}}};
  }
  const auto note = check::optionalString(body, "note", "");
  if (!technicianExists(technicianId)) {
    throw HttpError{422, "unknown_technician", "no technician " + technicianId, json{{"technicianId", technicianId}}};
  }
  const std::string from = wo.doc["status"];
  if (from == "completed" || from == "cancelled") {
    invalidTransition(wo, "a " + from + " work order cannot be assigned");
  }
  const std::string createdAt = nowIso(clock_);
  const std::string assignmentId = newId("asn_");
  json& techs = wo.doc["assignedTechnicianIds"];
  if (std::find(techs.begin(), techs.end(), technicianId) == techs.end()) techs.push_back(technicianId);
  wo.doc["appointmentWindow"] = {{"start", start}, {"end", end}};
  wo.doc["status"] = "scheduled";
  const std::string stamp = changeStamp();
  wo.doc["updatedAt"] = stamp;
  if (note && !note->empty()) wo.doc["notes"].push_back({{"text", *note}, {"createdAt", stamp}, {"author", user.name}});
  ++wo.version;
  saveWorkOrder(wo.doc, wo.version);

  json response = {{"assignmentId", assignmentId}, {"workOrderId", wo.doc["workOrderId"]},
                   {"status", "scheduled"},        {"technicianId", technicianId},
                   {"scheduledStart", start},      {"scheduledEnd", end},
                   {"createdAt", createdAt}};
  json stored = body;
  stored.update(response);
  db_->write("INSERT INTO assignments(assignment_id, work_order_id, doc, created_at) VALUES(?, ?, ?, ?)", assignmentId,
             wo.doc["workOrderId"].get<std::string>(), stored.dump(), createdAt);
  return jsonReply(201, response);
}

HttpReply Simulator::postConsumption(Request& req) {
  requireEntitlement(req, "workOrders");
  const StoredWorkOrder wo = requireWorkOrder(req.segments[1]);
  const std::string workOrderId = wo.doc["workOrderId"];
  const json body = req.body();
  auto array = [&](const char* key) {
    if (!body.contains(key) || body[key].is_null()) return json::array();
    if (!body[key].is_array()) {
      throw HttpError{400, "invalid_request", std::string(key) + " must be an array", json{{"field", key}}};
    }
    return body[key];
  };
  const json parts = array("parts");
  const json labor = array("labor");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string where = "parts[" + std::to_string(i) + "].";
    const json& p = parts[i];
    if (!p.is_object()) throw HttpError{400, "invalid_request", where + " must be an object"};
    check::string(p, "partNumber", where);
    if (check::number(p, "quantity", where, 0) <= 0) {
      throw HttpError{400, "invalid_request", where + "quantity must be more than 0",
                      json{{"field", where + "quantity"}}};
    }
    for (const char* key : {"description", "uom", "warehouseId", "bin", "lotNumber"})
      check::optionalString(p, key, where);
    if (p.contains("serialNumbers") && !p["serialNumbers"].is_null()) {
      bool ok = p["serialNumbers"].is_array();
      for (const auto& sn : p["serialNumbers"]) ok = ok && sn.is_string();
      if (!ok) {
        throw HttpError{400, "invalid_request", where + "serialNumbers must be an array of strings",
                        json{{"field", where + "serialNumbers"}}};
      }
    }
  }
  for (std::size_t i = 0; i < labor.size(); ++i) {
    const std::string where = "labor[" + std::to_string(i) + "].";
    const json& l = labor[i];
    if (!l.is_object()) throw HttpError{400, "invalid_request", where + " must be an object"};
    check::string(l, "technicianId", where);
    check::string(l, "laborType", where);
    check::number(l, "hours", where, 0);
    const auto startAt = check::optionalTimestamp(l, "startAt", where);
    const auto endAt = check::optionalTimestamp(l, "endAt", where);
    if (startAt && endAt && *endAt < *startAt) {
      throw HttpError{400, "invalid_request", where + "endAt is before startAt", json{{"field", where + "endAt"}}};
    }
    check::optionalString(l, "notes", where);
  }
  const bool hasSignature = body.contains("customerSignature") && !body["customerSignature"].is_null();
  if (hasSignature) {
    const json& sig = body["customerSignature"];
    if (!sig.is_object()) {
      throw HttpError{400, "invalid_request", "customerSignature must be an object or null",
                      json{{"field", "customerSignature"}}};
    }
    check::string(sig, "name", "customerSignature.");
    check::timestamp(sig, "signedAt", "customerSignature.");
    if (auto token = check::optionalString(sig, "signatureToken", "customerSignature.")) {
      Statement& st =
          db_->run("SELECT status FROM attachments WHERE upload_token = ? AND work_order_id = ?", *token, workOrderId);
      if (!st.step() || st.text(0) != "available") {
        throw HttpError{422, "unknown_upload",
                        "signatureToken " + *token + " names no completed upload of work order " + workOrderId,
                        json{{"signatureToken", *token}}};
      }
    }
  }
  if (parts.empty() && labor.empty() && !hasSignature) {
    throw HttpError{400, "invalid_request", "a consumption needs parts, labor or a customer signature"};
  }

  const std::string createdAt = nowIso(clock_);
  const std::string consumptionId = newId("cns_");
  // Parts leave the stock they were taken from (a bin, or the fullest bin of that warehouse).
  for (const auto& p : parts) {
    if (!p.contains("warehouseId") || !p["warehouseId"].is_string()) continue;
    const std::string warehouse = p["warehouseId"];
    const std::string part = p["partNumber"];
    const double qty = p["quantity"].get<double>();
    std::optional<std::string> bin;
    if (p.contains("bin") && p["bin"].is_string()) bin = p["bin"].get<std::string>();
    db_->write(
        "UPDATE inventory SET quantity = quantity - ?, updated_at = ? WHERE rowid = (SELECT rowid FROM inventory "
        "WHERE warehouse_id = ? AND part_number = ? AND (?5 IS NULL OR bin = ?5) ORDER BY quantity DESC LIMIT 1)",
        qty, changeStamp(), warehouse, part, bin);
  }
  json response = {{"workOrderId", workOrderId},    {"consumptionId", consumptionId},
                   {"partsRecorded", parts.size()}, {"laborEntriesRecorded", labor.size()},
                   {"status", "pending_billing"},   {"createdAt", createdAt}};
  json stored = body;
  stored.update(response);
  db_->write("INSERT INTO consumptions(consumption_id, work_order_id, doc, created_at) VALUES(?, ?, ?, ?)",
             consumptionId, workOrderId, stored.dump(), createdAt);
  return jsonReply(201, response);
}

HttpReply Simulator::listConsumptions(Request& req) {
  requireEntitlement(req, "workOrders");
  const std::string workOrderId = requireWorkOrder(req.segments[1]).doc["workOrderId"];
  const Page page = req.page();
  const std::int64_t total =
      db_->scalar("SELECT COUNT(*) FROM consumptions WHERE work_order_id = ?", workOrderId).value_or(0);
  Statement& st =
      db_->run("SELECT doc FROM consumptions WHERE work_order_id = ? ORDER BY created_at, rowid LIMIT ? OFFSET ?",
               workOrderId, page.pageSize, page.offset());
  json items = json::array();
  while (st.step()) items.push_back(json::parse(st.text(0)));
  return jsonReply(200, pageBody(std::move(items), page, total));
}

}  // namespace fieldagent::sim
