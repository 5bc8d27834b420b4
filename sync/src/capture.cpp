#include "fieldagent/sync/capture.hpp"

#include <cmath>
#include <set>

namespace fieldagent::sync {
namespace {

const std::set<std::string>& statuses() {
  static const std::set<std::string> all = {"open", "scheduled", "en_route", "on_site", "completed", "cancelled"};
  return all;
}

Error invalid(const std::string& message) { return makeError("invalid", message); }

// Checks that `body` is an object with only `allowed` keys.
Result<void> onlyKeys(const json& body, std::initializer_list<const char*> allowed, const std::string& where) {
  if (!body.is_object()) return invalid(where + " must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) return invalid(where + ": unknown field '" + key + "'");
  }
  return {};
}

Result<std::string> optionalTime(const json& body, const char* key, const std::string& where,
                                 const std::string& fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  platform::WallTime t{};
  if (!body[key].is_string() || !platform::parseIso8601(body[key].get<std::string>(), t)) {
    return invalid(where + key + " must be an ISO 8601 timestamp like 2026-01-21T13:00:00Z");
  }
  return platform::formatIso8601(t);
}

Result<std::string> requiredString(const json& body, const char* key, const std::string& where,
                                   std::size_t maxLength = 255) {
  if (!body.contains(key) || !body[key].is_string() || body[key].get_ref<const std::string&>().empty()) {
    return invalid(where + key + " must be a non-empty string");
  }
  if (body[key].get_ref<const std::string&>().size() > maxLength) {
    return invalid(where + key + " is longer than " + std::to_string(maxLength) + " characters");
  }
  return body[key].get<std::string>();
}

Result<void> optionalStringField(const json& body, const char* key, const std::string& where,
                                 std::size_t maxLength = 2000) {
  if (!body.contains(key) || body[key].is_null()) return {};
  if (!body[key].is_string()) return invalid(where + key + " must be a string");
  if (body[key].get_ref<const std::string&>().size() > maxLength) {
    return invalid(where + key + " is longer than " + std::to_string(maxLength) + " characters");
  }
  return {};
}

Result<double> positiveNumber(const json& body, const char* key, const std::string& where, double max) {
  if (!body.contains(key) || !body[key].is_number()) return invalid(where + key + " must be a number");
  const double v = body[key].get<double>();
  if (!std::isfinite(v) || v <= 0 || v > max) {
    return invalid(where + key + " must be more than 0 and at most " + std::to_string(static_cast<long long>(max)));
  }
  return v;
}

std::string str(const json& doc, const char* key) {
  return doc.is_object() && doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : "";
}

}  // namespace

bool knownStatus(const std::string& status) { return statuses().count(status) != 0; }

bool statusMoveAllowed(const std::string& from, const std::string& to) {
  if (from == to) return knownStatus(from);
  return (from == "scheduled" && to == "en_route") || (from == "en_route" && to == "on_site") ||
         (from == "on_site" && to == "completed") || (from == "on_site" && to == "en_route");
}

Capture::Capture(storage::Store& store, SessionManager& session, platform::Clock& clock, CoverageSettings coverage)
    : store_(store), session_(session), clock_(clock), coverage_(std::move(coverage)) {}

Result<storage::WorkOrder> Capture::cached(const std::string& workOrderId) {
  auto wo = store_.workOrders().workOrder(workOrderId);
  if (!wo && wo.error().code == "not_found") {
    return makeError("not_found", "work order '" + workOrderId + "' is not in the offline cache");
  }
  return wo;
}

std::string Capture::baseVersionOf(const storage::WorkOrder& wo) const {
  // Where upstream sends no ETag, updatedAt is the version (the contract's fallback).
  return wo.etag.empty() ? wo.serverUpdatedAt : wo.etag;
}

std::string Capture::vanWarehouse() const {
  const std::string me = session_.status().user.technicianId;
  if (me.empty()) return "";
  auto tech = store_.referenceData().reference(storage::ReferenceKind::technician, me);
  return tech ? str(*tech, "vanWarehouseId") : "";
}

Result<Captured> Capture::moveStatus(const std::string& workOrderId, const json& request) {
  if (auto e = session_.requireEntitlement("workOrders"); !e) return e.error();
  if (auto r = onlyKeys(request, {"status", "occurredAt", "note", "location"}, "status request"); !r) return r.error();
  auto status = requiredString(request, "status", "");
  if (!status) return status.error();
  if (!knownStatus(*status)) return invalid("status '" + *status + "' is not one of open, scheduled, en_route, on_site, completed, cancelled");
  auto occurredAt = optionalTime(request, "occurredAt", "", platform::formatIso8601(clock_.now()));
  if (!occurredAt) return occurredAt.error();
  if (auto r = optionalStringField(request, "note", ""); !r) return r.error();
  if (request.contains("location") && !request["location"].is_null()) {
    const json& loc = request["location"];
    if (auto r = onlyKeys(loc, {"lat", "lon"}, "location"); !r) return r.error();
    if (!loc.contains("lat") || !loc["lat"].is_number() || std::abs(loc["lat"].get<double>()) > 90 ||
        !loc.contains("lon") || !loc["lon"].is_number() || std::abs(loc["lon"].get<double>()) > 180) {
      return invalid("location needs lat (-90..90) and lon (-180..180) numbers");
    }
  }
  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  const std::string from = str(wo->doc, "status");
  if (!statusMoveAllowed(from, *status)) {
    return makeError("invalid_transition", "work order " + workOrderId + " cannot move from '" + from + "' to '" +
                                               *status + "'");
  }
  json body = {{"status", *status}, {"occurredAt", *occurredAt}};
  if (request.contains("note") && request["note"].is_string()) body["note"] = request["note"];
  if (request.contains("location") && request["location"].is_object()) body["location"] = request["location"];
  // "request" is what goes upstream; "from" is the status the technician saw, kept as the
  // base of a conflict.
  const json payload = {{"request", body}, {"from", from}};

  // Status moves of one work order form a chain: a move parked for a person holds the moves
  // after it (which were made on top of it) and nothing else.
  std::vector<std::int64_t> after;
  auto ops = store_.outbox().listOperations({std::nullopt, workOrderId, 0, 10000});
  if (!ops) return ops.error();
  for (auto it = ops->rbegin(); it != ops->rend(); ++it) {
    if (it->kind == op::kStatus && it->state != storage::OpState::done && it->state != storage::OpState::archived) {
      after.push_back(it->id);
      break;
    }
  }

  storage::LocalWrite write;
  write.workOrderId = workOrderId;
  write.workOrderPatch = json{{"status", *status}};
  write.operations.push_back({op::kStatus, payload, baseVersionOf(*wo), after, {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId, result->operations, {}, body};
}

Result<Capture::NormalizedConsumption> Capture::normalizeConsumption(const json& request) {
  if (auto r = onlyKeys(request, {"parts", "labor", "customerSignature"}, "consumption"); !r) return r.error();
  const std::string me = session_.status().user.technicianId;
  const std::string van = vanWarehouse();
  json body = request;
  std::size_t lines = 0;
  std::vector<storage::StockAdjustment> stock;

  if (body.contains("parts")) {
    if (!body["parts"].is_array()) return invalid("parts must be an array");
    if (!body["parts"].empty()) {
      if (auto e = session_.requireEntitlement("inventory"); !e) return e.error();
    }
    for (std::size_t i = 0; i < body["parts"].size(); ++i) {
      json& part = body["parts"][i];
      const std::string where = "parts[" + std::to_string(i) + "].";
      if (auto r = onlyKeys(part, {"partNumber", "description", "quantity", "uom", "warehouseId", "bin", "serialNumbers",
                                   "lotNumber"},
                            "parts[" + std::to_string(i) + "]");
          !r) {
        return r.error();
      }
      auto pn = requiredString(part, "partNumber", where);
      if (!pn) return pn.error();
      auto qty = positiveNumber(part, "quantity", where, 100000);
      if (!qty) return qty.error();
      for (const char* key : {"description", "uom", "warehouseId", "bin", "lotNumber"}) {
        if (auto r = optionalStringField(part, key, where, 255); !r) return r.error();
      }
      if (part.contains("serialNumbers") && !part["serialNumbers"].is_null()) {
        if (!part["serialNumbers"].is_array()) return invalid(where + "serialNumbers must be an array of strings");
        for (const auto& sn : part["serialNumbers"]) {
          if (!sn.is_string()) return invalid(where + "serialNumbers must be an array of strings");
        }
      }
      if (str(part, "warehouseId").empty()) {
        if (van.empty()) return invalid(where + "warehouseId is needed: no van warehouse is known for this technician");
        part["warehouseId"] = van;
      }
      stock.push_back({str(part, "warehouseId"), *pn, str(part, "bin"), -*qty});
      ++lines;
    }
  }
  if (body.contains("labor")) {
    if (!body["labor"].is_array()) return invalid("labor must be an array");
    for (std::size_t i = 0; i < body["labor"].size(); ++i) {
      json& labor = body["labor"][i];
      const std::string where = "labor[" + std::to_string(i) + "].";
      if (auto r = onlyKeys(labor, {"technicianId", "laborType", "hours", "startAt", "endAt", "notes"},
                            "labor[" + std::to_string(i) + "]");
          !r) {
        return r.error();
      }
      if (auto lt = requiredString(labor, "laborType", where); !lt) return lt.error();
      if (auto h = positiveNumber(labor, "hours", where, 24); !h) return h.error();
      for (const char* key : {"startAt", "endAt"}) {
        if (auto t = optionalTime(labor, key, where, ""); !t) return t.error();
      }
      if (auto r = optionalStringField(labor, "notes", where); !r) return r.error();
      if (str(labor, "technicianId").empty()) {
        if (me.empty()) return invalid(where + "technicianId is needed: the signed-in user is not a technician");
        labor["technicianId"] = me;
      }
      ++lines;
    }
  }
  if (lines == 0) return invalid("a consumption needs at least one parts or labor line");

  if (body.contains("customerSignature") && !body["customerSignature"].is_null()) {
    const json& sig = body["customerSignature"];
    if (auto r = onlyKeys(sig, {"name", "signedAt", "signatureToken"}, "customerSignature"); !r) return r.error();
    if (auto n = requiredString(sig, "name", "customerSignature."); !n) return n.error();
    auto signedAt = optionalTime(sig, "signedAt", "customerSignature.", "");
    if (!signedAt) return signedAt.error();
    if (signedAt->empty()) return invalid("customerSignature.signedAt is required");
    if (auto token = requiredString(sig, "signatureToken", "customerSignature."); !token) return token.error();
  }
  return NormalizedConsumption{std::move(body), std::move(stock)};
}

Result<Captured> Capture::recordConsumption(const std::string& workOrderId, const json& request) {
  if (auto e = session_.requireEntitlement("workOrders"); !e) return e.error();
  auto normalized = normalizeConsumption(request);
  if (!normalized) return normalized.error();
  json& body = normalized->body;
  const std::vector<storage::StockAdjustment>& stock = normalized->stock;

  std::vector<std::int64_t> dependsOn;
  if (body.contains("customerSignature") && body["customerSignature"].is_object()) {
    const std::string token = body["customerSignature"]["signatureToken"];
    // A local handle names a signature captured here: the consumption waits for its upload.
    if (auto att = store_.attachments().attachment(token); att) {
      if (att->workOrderId != workOrderId) {
        return invalid("customerSignature.signatureToken names an attachment of another work order");
      }
      auto ops = store_.outbox().listOperations({std::nullopt, workOrderId, 0, 1000});
      if (!ops) return ops.error();
      for (const auto& o : *ops) {
        if (o.kind == op::kAttachmentUpload && str(o.payload, "attachmentId") == token) dependsOn.push_back(o.id);
      }
      if (dependsOn.empty()) return invalid("the signature '" + token + "' has no upload recorded");
    }
  }

  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  std::vector<std::string> warnings;
  for (const auto& adj : stock) {
    auto lines = store_.referenceData().stock(adj.warehouseId, adj.partNumber);
    double onHand = 0;
    if (lines) {
      for (const auto& l : *lines) {
        if (adj.bin.empty() || l.bin == adj.bin) onHand += l.quantityOnHand;
      }
    }
    if (onHand + adj.delta < 0) {
      warnings.push_back("van stock of " + adj.partNumber + " in " + adj.warehouseId + " goes negative (" +
                         std::to_string(onHand + adj.delta) + "): recorded anyway, check the van");
    }
  }
  const json coverage = classifyConsumption(body, wo->doc, store_, clock_.now(), coverage_);
  json payload = {{"request", body}, {"coverage", coverage}, {"capturedAt", platform::formatIso8601(clock_.now())}};

  storage::LocalWrite write;
  write.workOrderId = workOrderId;
  write.stock = stock;
  write.operations.push_back({op::kConsumption, payload, "", dependsOn, {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId, result->operations, warnings, {{"coverage", coverage}}};
}

Result<Captured> Capture::addNote(const std::string& workOrderId, const json& request) {
  if (auto e = session_.requireEntitlement("workOrders"); !e) return e.error();
  if (auto r = onlyKeys(request, {"text", "occurredAt"}, "note"); !r) return r.error();
  auto text = requiredString(request, "text", "", 4000);
  if (!text) return text.error();
  auto at = optionalTime(request, "occurredAt", "", platform::formatIso8601(clock_.now()));
  if (!at) return at.error();
  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  json notes = wo->doc.contains("notes") && wo->doc["notes"].is_array() ? wo->doc["notes"] : json::array();
  json note = {{"text", *text}, {"createdAt", *at}, {"author", session_.status().user.name}, {"pending", true}};
  notes.push_back(note);

  storage::LocalWrite write;
  write.workOrderId = workOrderId;
  // Appended, not the whole list: a note added upstream meanwhile stays in view, and the n-th
  // note is as cheap to store as the first (fuzz find 13).
  write.appends.emplace_back("notes", std::move(note));
  write.operations.push_back({op::kNote, {{"note", *text}, {"occurredAt", *at}}, "", {}, {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId, result->operations, {}, {{"notes", notes}}};
}

Result<Captured> Capture::answerChecklist(const std::string& workOrderId, const std::string& itemId,
                                          const json& request) {
  if (auto e = session_.requireEntitlement("workOrders"); !e) return e.error();
  if (auto r = onlyKeys(request, {"answer"}, "checklist answer"); !r) return r.error();
  if (!request.contains("answer") || request["answer"].is_null() || request["answer"].is_object()) {
    return invalid("answer must be a string, number, boolean or array");
  }
  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  if (!wo->doc.contains("checklist") || !wo->doc["checklist"].is_array()) {
    return makeError("not_found", "work order " + workOrderId + " has no checklist in the cache");
  }
  json checklist = wo->doc["checklist"];
  std::string text;
  bool found = false;
  for (auto& item : checklist) {
    if (str(item, "itemId") == itemId) {
      item["answer"] = request["answer"];
      text = str(item, "text");
      found = true;
    }
  }
  if (!found) return makeError("not_found", "checklist item '" + itemId + "' is not on work order " + workOrderId);

  storage::LocalWrite write;
  write.workOrderId = workOrderId;
  write.workOrderPatch = json{{"checklist", checklist}};
  write.operations.push_back({op::kChecklistAnswer,
                              {{"itemId", itemId}, {"text", text}, {"answer", request["answer"]},
                               {"occurredAt", platform::formatIso8601(clock_.now())}},
                              "",
                              {},
                              {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId, result->operations, {}, {{"checklist", checklist}}};
}

Result<Captured> Capture::assign(const std::string& workOrderId, const json& request) {
  if (auto e = session_.requireEntitlement("dispatch"); !e) return e.error();
  if (auto r = onlyKeys(request, {"technicianId", "scheduledStart", "scheduledEnd", "routeSequence",
                                  "notifyTechnician", "note"},
                        "assignment");
      !r) {
    return r.error();
  }
  auto tech = requiredString(request, "technicianId", "");
  if (!tech) return tech.error();
  json body = request;
  for (const char* key : {"scheduledStart", "scheduledEnd"}) {
    auto t = optionalTime(request, key, "", "");
    if (!t) return t.error();
    if (t->empty()) return invalid(std::string(key) + " is required");
    body[key] = *t;
  }
  if (body["scheduledEnd"].get<std::string>() < body["scheduledStart"].get<std::string>()) {
    return invalid("scheduledEnd is before scheduledStart");
  }
  if (request.contains("routeSequence") && !request["routeSequence"].is_number_integer()) {
    return invalid("routeSequence must be an integer");
  }
  if (request.contains("notifyTechnician") && !request["notifyTechnician"].is_boolean()) {
    return invalid("notifyTechnician must be true or false");
  }
  if (auto r = optionalStringField(request, "note", ""); !r) return r.error();
  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  json assigned = wo->doc.contains("assignedTechnicianIds") && wo->doc["assignedTechnicianIds"].is_array()
                      ? wo->doc["assignedTechnicianIds"]
                      : json::array();
  if (std::find(assigned.begin(), assigned.end(), json(*tech)) == assigned.end()) assigned.push_back(*tech);

  storage::LocalWrite write;
  write.workOrderId = workOrderId;
  write.workOrderPatch = json{{"assignedTechnicianIds", assigned}};
  write.operations.push_back({op::kAssignment, {{"request", body}}, baseVersionOf(*wo), {}, {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId, result->operations, {}, body};
}

Result<Captured> Capture::recordAttachment(const storage::FinishedAttachment& attachment) {
  storage::LocalWrite write;
  write.workOrderId = attachment.spec.workOrderId;
  write.attachments.push_back(attachment);
  write.operations.push_back({op::kAttachmentUpload, {{"attachmentId", attachment.id}}, "", {}, {}});
  auto result = store_.localWrites().applyLocalWrite(write);
  if (!result) return result.error();
  return Captured{result->writeId,
                  result->operations,
                  {},
                  {{"attachmentId", attachment.id}, {"sizeBytes", attachment.sizeBytes}, {"sha256", attachment.sha256}}};
}

Result<void> Capture::editParked(std::int64_t operationId, const json& request) {
  auto operation = store_.outbox().operation(operationId);
  if (!operation) return operation.error();
  json payload = operation->payload;
  if (operation->kind == op::kConsumption) {
    // An edited consumption is checked and completed like a new one (technician, van).
    auto normalized = normalizeConsumption(request);
    if (!normalized) return normalized.error();
    payload["request"] = normalized->body;
  } else if (operation->kind == op::kStatus || operation->kind == op::kAssignment) {
    if (!request.is_object()) return invalid("the edited request must be a JSON object");
    payload["request"] = request;
  } else {
    return invalid("operations of kind '" + operation->kind + "' cannot be edited; retry or discard them");
  }
  return store_.outbox().editParked(operationId, payload);
}

Result<void> Capture::retryParked(std::int64_t operationId) { return store_.outbox().retryParked(operationId); }

Result<void> Capture::discardParked(std::int64_t operationId) { return store_.outbox().discard(operationId); }

Result<json> Capture::invoice(const std::string& workOrderId) {
  auto wo = cached(workOrderId);
  if (!wo) return wo.error();
  auto ops = store_.outbox().listOperations({std::nullopt, workOrderId, 0, 10000});
  if (!ops) return ops.error();
  std::vector<json> classifications;
  for (const auto& o : *ops) {
    if (o.kind == op::kConsumption && o.state != storage::OpState::archived && o.payload.contains("coverage")) {
      classifications.push_back(o.payload["coverage"]);
    }
  }
  return invoiceSummary(workOrderId, classifications, coverage_);
}

}  // namespace fieldagent::sync
