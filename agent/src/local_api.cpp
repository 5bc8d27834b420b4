#include "fieldagent/agent/local_api.hpp"

#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/URI.h>

#include <algorithm>
#include <istream>
#include <map>
#include <sstream>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"

namespace fieldagent::agent {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

namespace {

// Request bodies other than attachments are small JSON documents; a bigger one is a mistake or
// an attack, refused before it is read.
constexpr std::size_t kMaxJsonBody = 1 << 20;
// Attachment bytes are read and encrypted in pieces of this size: never a whole photo in memory.
constexpr std::size_t kAttachmentPiece = 64 * 1024;
// A refused attachment's remaining body is read (and dropped) up to this much, so the app sees
// the answer; past it the connection is closed.
constexpr std::uint64_t kMaxDrainBytes = 64ull << 20;
// App idempotency keys remembered (oldest forgotten first), as upstream keeps them for 24 h.
constexpr std::size_t kIdempotencyEntries = 2000;

struct Reply {
  Reply() = default;
  Reply(int s, json b, bool r = false) : status(s), body(std::move(b)), replayed(r) {}
  int status = 200;
  json body;
  bool replayed = false;
  std::string rawJson;  // when set, sent as the body instead of `body` (already valid JSON text)
};

Reply error(int status, const std::string& code, const std::string& message) {
  return {status, {{"error", code}, {"message", message}}};
}

// The HTTP status for an error code of the layers below.
int statusFor(const std::string& code) {
  static const std::map<std::string, int> table = {
      {"not_found", 404},       {"invalid", 400},         {"invalid_transition", 409}, {"forbidden", 403},
      {"signed_out", 403},      {"no_space", 507},        {"quota_exceeded", 413},     {"wrong_state", 409},
      {"already_resolved", 409}, {"no_challenge", 409},   {"invalid_mfa_code", 422},   {"no_credentials", 409},
      {"bad_request", 400},     {"payload_too_large", 413}, {"mfa_pending", 409},     {"unreachable", 503}};
  auto it = table.find(code);
  return it == table.end() ? 500 : it->second;
}

Reply fromError(const Error& e) { return error(statusFor(e.code), e.code, e.message); }

json operationJson(const storage::OutboxOp& o) {
  json j = {{"operationId", o.id},
            {"writeId", o.writeId},
            {"kind", o.kind},
            {"workOrderId", o.workOrderId},
            {"state", std::string(storage::toString(o.state))},
            {"held", o.held},
            {"attempts", o.attempts},
            {"lastError", o.lastError},
            {"payload", o.payload},
            {"createdAt", platform::formatIso8601(o.createdAt)},
            {"updatedAt", platform::formatIso8601(o.updatedAt)},
            {"dependsOn", o.dependsOn}};
  if (o.state == storage::OpState::pending) j["nextAttemptAt"] = platform::formatIso8601(o.nextAttemptAt);
  if (!o.result.is_null()) j["result"] = o.result;
  return j;
}

json conflictJson(const storage::ConflictRecord& c) {
  json j = {{"conflictId", c.id},   {"operationId", c.operationId}, {"workOrderId", c.workOrderId},
            {"field", c.field},     {"base", c.base},               {"theirs", c.theirs},
            {"yours", c.yours},     {"message", c.message},         {"open", c.open},
            {"resolution", c.resolution}, {"resolutionNote", c.resolutionNote},
            {"createdAt", platform::formatIso8601(c.createdAt)}};
  if (c.resolvedAt) j["resolvedAt"] = platform::formatIso8601(*c.resolvedAt);
  return j;
}

json attachmentJson(const storage::AttachmentRecord& a) {
  return {{"attachmentId", a.id},         {"workOrderId", a.workOrderId},
          {"kind", a.kind},               {"fileName", a.fileName},
          {"contentType", a.contentType}, {"sizeBytes", a.sizeBytes},
          {"sha256", a.sha256},           {"state", std::string(storage::toString(a.state))},
          {"upstreamId", a.upstreamId},   {"lastError", a.lastError},
          {"createdAt", platform::formatIso8601(a.createdAt)}};
}

json workOrderJson(storage::WorkOrder wo) {
  json j = std::move(wo.doc);
  j["_local"] = {{"hasLocalChanges", wo.hasLocalChanges}, {"detached", wo.detached}, {"etag", wo.etag}};
  return j;
}

// A page of work orders, each the stored view's JSON text with "_local" spliced in before its
// closing brace: no parse into a tree and no dump per request, which were most of a list's
// cost. The text is checked first (json::accept: the file is on disk and may be damaged); a view
// that already has a "_local" key (upstream's own) goes the slow way so ours replaces it.
Reply workOrderPage(const storage::Page<storage::WorkOrderRow>& page) {
  std::string out = "{\"items\":[";
  bool first = true;
  for (const auto& row : page.items) {
    const std::string& text = row.docText;
    if (text.size() < 2 || text.front() != '{' || text.back() != '}' || !json::accept(text)) {
      return fromError(makeError("corrupt", "stored work order " + row.workOrderId + " is not valid JSON"));
    }
    const json local = {{"hasLocalChanges", row.hasLocalChanges}, {"detached", row.detached}, {"etag", row.etag}};
    if (!first) out += ',';
    first = false;
    if (text.find("\"_local\"") != std::string::npos) {
      json doc = json::parse(text);
      doc["_local"] = local;
      out += doc.dump(-1, ' ', false, json::error_handler_t::replace);
      continue;
    }
    out.append(text, 0, text.size() - 1);
    if (text[text.find_last_not_of(" \t\r\n", text.size() - 2)] != '{') out += ',';  // not an empty object
    out += "\"_local\":";
    out += local.dump(-1, ' ', false, json::error_handler_t::replace);
    out += '}';
  }
  out += "],\"page\":" + std::to_string(page.page) + ",\"pageSize\":" + std::to_string(page.pageSize) +
         ",\"total\":" + std::to_string(page.total) + "}";
  Reply reply(200, json());
  reply.rawJson = std::move(out);
  return reply;
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : path) {
    if (ch == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool validUtf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

Result<int> intParam(const std::map<std::string, std::string>& q, const std::string& name, int def, int lo, int hi) {
  auto it = q.find(name);
  if (it == q.end()) return def;
  try {
    std::size_t used = 0;
    int v = std::stoi(it->second, &used);
    if (used != it->second.size() || v < lo || v > hi) throw std::out_of_range(name);
    return v;
  } catch (const std::exception&) {
    return makeError("bad_request",
                     name + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
}

Result<std::optional<platform::WallTime>> timeParam(const std::map<std::string, std::string>& q,
                                                    const std::string& name) {
  auto it = q.find(name);
  if (it == q.end()) return std::optional<platform::WallTime>{};
  platform::WallTime t;
  if (!platform::parseIso8601(it->second, t))
    return makeError("bad_request", name + " must be an ISO 8601 time like 2026-01-21T13:00:00Z");
  return std::optional<platform::WallTime>{t};
}

}  // namespace

// The apps' Idempotency-Key: the same key with the same request gets the first answer again and
// nothing is written twice; the same key with another request is refused (422), as upstream
// does. Kept in <dataDir>/app-idempotency.json so a retry across an agent restart is still
// recognised.
class AppIdempotency {
 public:
  explicit AppIdempotency(std::filesystem::path file) : file_(std::move(file)) {
    if (auto text = platform::fs::readFile(file_); text) {
      json doc = json::parse(*text, nullptr, false);
      if (doc.is_array()) {
        for (const auto& e : doc) {
          if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) continue;
          order_.push_back(e["key"]);
          entries_[e["key"]] = {e.value("requestHash", ""), e.value("status", 202), e.value("body", json())};
        }
      }
    }
  }

  struct Entry {
    std::string requestHash;
    int status = 202;
    json body;
  };

  std::optional<Entry> find(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  void remember(const std::string& key, Entry entry) {
    if (!entries_.count(key)) order_.push_back(key);
    entries_[key] = std::move(entry);
    while (order_.size() > kIdempotencyEntries) {
      entries_.erase(order_.front());
      order_.erase(order_.begin());
    }
    json doc = json::array();
    for (const auto& k : order_) {
      const auto& e = entries_[k];
      doc.push_back({{"key", k}, {"requestHash", e.requestHash}, {"status", e.status}, {"body", e.body}});
    }
    (void)platform::fs::atomicWrite(file_, doc.dump(), 0600);
  }

 private:
  std::filesystem::path file_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
};

namespace {

class ApiHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  ApiHandler(Agent& agent, const std::string& token, AppIdempotency& idempotency)
      : agent_(agent), token_(token), idempotency_(idempotency) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    ++agent_.metrics().apiRequests;
    Reply reply;
    try {
      reply = route(request, response);
    } catch (const std::exception& e) {
      reply = error(500, "internal", std::string("unexpected failure: ") + e.what());
    }
    if (streamed_) return;
    if (reply.status >= 400) ++agent_.metrics().apiErrors;
    send(response, reply);
  }

 private:
  void send(HTTPServerResponse& response, const Reply& reply) {
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
    if (reply.replayed) response.set("Idempotent-Replayed", "true");
    if (reply.body.is_string() && textBody_) {
      response.setContentType("text/plain; version=0.0.4");
      response.sendBuffer(reply.body.get_ref<const std::string&>().data(), reply.body.get_ref<const std::string&>().size());
      return;
    }
    response.setContentType("application/json");
    if (!reply.rawJson.empty()) {
      response.sendBuffer(reply.rawJson.data(), reply.rawJson.size());
      return;
    }
    // Replies echo what the request carried (a percent-decoded path, an id); bytes that are not
    // UTF-8 are replaced rather than let dump() throw and leave the client without an answer.
    std::string text = reply.body.dump(-1, ' ', false, json::error_handler_t::replace);
    response.sendBuffer(text.data(), text.size());
  }

  bool authorised(const HTTPServerRequest& request) {
    const std::string header = request.get("Authorization", "");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) != 0) return false;
    return platform::constantTimeEqual(header.substr(prefix.size()), token_);
  }

  Result<json> readJson(HTTPServerRequest& request) {
    std::string body;
    body.reserve(1024);
    char buf[8192];
    auto& in = request.stream();
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      body.append(buf, static_cast<std::size_t>(in.gcount()));
      if (body.size() > kMaxJsonBody) return makeError("payload_too_large", "request body larger than 1 MiB");
    }
    rawBody_ = body;
    if (body.empty()) return makeError("bad_request", "request body must be a JSON object");
    json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) return makeError("bad_request", "request body is not valid JSON");
    if (!doc.is_object()) return makeError("bad_request", "request body must be a JSON object");
    return doc;
  }

  // Runs a write once per Idempotency-Key: `write` records it and returns the answer.
  Reply idempotent(HTTPServerRequest& request, const std::string& requestHash, const std::function<Reply()>& write) {
    const std::string key = request.get("Idempotency-Key", "");
    if (key.size() > 255) return error(400, "bad_request", "Idempotency-Key longer than 255 characters");
    std::lock_guard lock(agent_.writeMutex());
    const std::string scoped = request.getMethod() + " " + request.getURI() + " " + key;
    if (!key.empty()) {
      if (auto seen = idempotency_.find(scoped)) {
        if (seen->requestHash != requestHash)
          return error(422, "idempotency_key_reused",
                       "Idempotency-Key " + key + " was used before with a different request");
        return {seen->status, seen->body, true};
      }
    }
    Reply reply = write();
    if (!key.empty() && reply.status < 500) idempotency_.remember(scoped, {requestHash, reply.status, reply.body});
    if (reply.status == 202) agent_.localWriteRecorded();
    return reply;
  }

  static Reply accepted(const Result<sync::Captured>& captured) {
    if (!captured) return fromError(captured.error());
    json ops = json::array();
    for (const auto& o : captured->operations) ops.push_back(o.id);
    json body = {{"writeId", captured->writeId},
                 {"operationIds", ops},
                 {"syncState", "pending"},
                 {"warnings", captured->warnings}};
    if (!captured->detail.is_null()) body["detail"] = captured->detail;
    return {202, body};
  }

  Reply jsonWrite(HTTPServerRequest& request, const std::function<Result<sync::Captured>(const json&)>& capture) {
    auto body = readJson(request);
    if (!body) return fromError(body.error());
    const std::string hash = platform::hexEncode(platform::sha256(rawBody_));
    return idempotent(request, hash, [&] { return accepted(capture(*body)); });
  }

  Reply route(HTTPServerRequest& request, HTTPServerResponse& response) {
    if (!authorised(request)) {
      return error(401, "unauthorized", "missing or wrong bearer token (see the agent's api-token file)");
    }
    // A target Poco cannot decode ("/a%%b", "%zz") is the client's mistake, not ours (fuzzing
    // found it answered 500).
    Poco::URI uri;
    std::map<std::string, std::string> query;
    try {
      uri = Poco::URI(request.getURI());
      for (const auto& [k, v] : uri.getQueryParameters()) query[k] = v;
    } catch (const Poco::Exception& e) {
      return error(400, "bad_request", "malformed request target: " + e.displayText());
    }
    // Ids, keys and query values end up in JSON (the store, the idempotency file, upstream),
    // which holds UTF-8 only: anything else is refused here, before it can make a dump() throw
    // after a write was recorded (found by fuzzing).
    bool utf8 = validUtf8(uri.getPath()) && validUtf8(request.get("Idempotency-Key", ""));
    for (const auto& [k, v] : query) utf8 = utf8 && validUtf8(k) && validUtf8(v);
    if (!utf8) return error(400, "bad_request", "the path, query and Idempotency-Key must be UTF-8");
    const auto parts = split(uri.getPath());
    const std::string method = request.getMethod();
    if (parts.size() == 1 && parts[0] == "health" && method == "GET") return {200, {{"status", "ok"}}};
    if (parts.size() == 1 && parts[0] == "metrics" && method == "GET") return metrics();
    if (!parts.empty() && parts[0] == "work-orders") return workOrders(request, parts, query, method);
    if (!parts.empty() && parts[0] == "agent") return agentRoutes(request, response, parts, query, method);
    static const std::map<std::string, storage::ReferenceKind> kinds = {
        {"customers", storage::ReferenceKind::customer}, {"sites", storage::ReferenceKind::site},
        {"assets", storage::ReferenceKind::asset},       {"contracts", storage::ReferenceKind::contract},
        {"parts", storage::ReferenceKind::part},         {"technicians", storage::ReferenceKind::technician}};
    if (!parts.empty() && method == "GET") {
      if (parts[0] == "inventory" && parts.size() == 1) return inventory(query);
      auto kind = kinds.find(parts[0]);
      if (kind != kinds.end() && parts.size() == 2) {
        auto doc = agent_.store().reference(kind->second, parts[1]);
        if (!doc) return fromError(doc.error());
        return {200, *doc};
      }
      if (kind != kinds.end() && parts.size() == 1) {
        auto page = intParam(query, "page", 1, 1, 1'000'000);
        auto size = intParam(query, "pageSize", 50, 1, 200);
        if (!page) return fromError(page.error());
        if (!size) return fromError(size.error());
        std::optional<std::string> parent;
        if (query.count("customerId")) parent = query["customerId"];
        auto list = agent_.store().listReference(kind->second, parent, *page, *size);
        if (!list) return fromError(list.error());
        return {200, {{"items", list->items}, {"page", list->page}, {"pageSize", list->pageSize}, {"total", list->total}}};
      }
    }
    return error(404, "not_found", "no such resource: " + method + " " + uri.getPath());
  }

  Reply metrics() {
    auto& m = agent_.metrics();
    std::ostringstream out;
    auto counter = [&](const char* name, const char* help, std::uint64_t v) {
      out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
    };
    counter("fieldagent_pulls_total", "Pulls from upstream.", m.pulls);
    counter("fieldagent_pull_failures_total", "Pulls that failed.", m.pullFailures);
    counter("fieldagent_drains_total", "Outbox drains.", m.drains);
    counter("fieldagent_operations_done_total", "Outbox operations upstream confirmed.", m.opsDone);
    counter("fieldagent_operations_retried_total", "Outbox sends to retry later.", m.opsRetried);
    counter("fieldagent_operations_rejected_total", "Outbox operations upstream rejected.", m.opsRejected);
    counter("fieldagent_conflicts_total", "Conflicts recorded.", m.opsConflicts);
    counter("fieldagent_api_requests_total", "Local API requests.", m.apiRequests);
    counter("fieldagent_api_errors_total", "Local API requests answered 4xx/5xx.", m.apiErrors);
    counter("fieldagent_sla_at_risk_total", "SLA-at-risk events.", m.slaAtRisk);
    counter("fieldagent_events_total", "Events published.", agent_.events().published());
    out << "# HELP fieldagent_outbox_operations Outbox operations by state.\n# TYPE fieldagent_outbox_operations gauge\n";
    if (auto counts = agent_.store().outboxCounts()) {
      for (const auto& [st, n] : counts->byState)
        out << "fieldagent_outbox_operations{state=\"" << storage::toString(st) << "\"} " << n << '\n';
      out << "# HELP fieldagent_outbox_oldest_pending_age_seconds Age of the oldest pending operation.\n"
          << "# TYPE fieldagent_outbox_oldest_pending_age_seconds gauge\nfieldagent_outbox_oldest_pending_age_seconds "
          << (counts->oldestPendingCreatedAt ? std::chrono::duration_cast<std::chrono::seconds>(
                                                   agent_.clock().now() - *counts->oldestPendingCreatedAt)
                                                   .count()
                                             : 0)
          << '\n';
    }
    out << "# HELP fieldagent_session_active 1 while signed in upstream.\n# TYPE fieldagent_session_active gauge\n"
        << "fieldagent_session_active "
        << (agent_.session().status().state == sync::SessionState::active ? 1 : 0) << '\n';
    textBody_ = true;
    return {200, out.str()};
  }

  Reply inventory(std::map<std::string, std::string>& query) {
    std::string warehouse = query.count("warehouseId") ? query["warehouseId"] : "";
    if (warehouse.empty()) {
      auto tech = agent_.session().status().user.technicianId;
      if (auto t = agent_.store().reference(storage::ReferenceKind::technician, tech); t)
        warehouse = t->value("vanWarehouseId", "");
    }
    if (warehouse.empty()) return error(400, "bad_request", "warehouseId is required (no van known for this user)");
    std::optional<std::string> part;
    if (query.count("partNumber")) part = query["partNumber"];
    auto lines = agent_.store().stock(warehouse, part);
    if (!lines) return fromError(lines.error());
    json items = json::array();
    for (const auto& l : *lines) items.push_back(l.doc);
    return {200, {{"items", items}, {"page", 1}, {"pageSize", items.size()}, {"total", items.size()}}};
  }

  Reply workOrders(HTTPServerRequest& request, const std::vector<std::string>& parts,
                   std::map<std::string, std::string>& query, const std::string& method) {
    auto& store = agent_.store();
    auto& capture = agent_.capture();
    if (parts.size() == 1 && method == "GET") {
      storage::WorkOrderQuery q;
      if (query.count("customerId")) q.customerId = query["customerId"];
      if (query.count("status")) {
        if (!sync::knownStatus(query["status"]) && query["status"] != "open")
          return error(400, "bad_request", "status \"" + query["status"] + "\" is not a work-order status");
        q.status = query["status"];
      }
      if (query.count("technicianId")) q.technicianId = query["technicianId"];
      for (const auto& [name, field] : std::vector<std::pair<std::string, std::optional<platform::WallTime>*>>{
               {"slaDueFrom", &q.slaDueFrom}, {"slaDueTo", &q.slaDueTo}, {"updatedFrom", &q.updatedFrom},
               {"updatedTo", &q.updatedTo}}) {
        auto t = timeParam(query, name);
        if (!t) return fromError(t.error());
        *field = *t;
      }
      auto page = intParam(query, "page", 1, 1, 1'000'000);
      auto size = intParam(query, "pageSize", 50, 1, 200);
      if (!page) return fromError(page.error());
      if (!size) return fromError(size.error());
      q.page = *page;
      q.pageSize = *size;
      auto list = store.listWorkOrderRows(q);
      if (!list) return fromError(list.error());
      return workOrderPage(*list);
    }
    if (parts.size() < 2) return error(405, "method_not_allowed", method + " /work-orders is not served");
    const std::string id = parts[1];
    if (parts.size() == 2 && method == "GET") {
      auto wo = store.workOrder(id);
      if (!wo) return fromError(wo.error());
      return {200, workOrderJson(std::move(*wo))};
    }
    if (parts.size() != 3 && !(parts.size() == 4 && parts[2] == "checklist"))
      return error(404, "not_found", "no such resource under work order " + id);
    const std::string& sub = parts[2];
    if (method == "GET" && sub == "invoice") {
      auto inv = capture.invoice(id);
      if (!inv) return fromError(inv.error());
      return {200, *inv};
    }
    if (method == "GET" && sub == "attachments") {
      if (auto wo = store.workOrder(id); !wo) return fromError(wo.error());
      auto list = store.listAttachments(id);
      if (!list) return fromError(list.error());
      json items = json::array();
      for (const auto& a : *list) items.push_back(attachmentJson(a));
      return {200, {{"items", items}, {"page", 1}, {"pageSize", items.size()}, {"total", items.size()}}};
    }
    if (method != "POST") return error(405, "method_not_allowed", method + " is not served here");
    if (sub == "status") return jsonWrite(request, [&](const json& b) { return capture.moveStatus(id, b); });
    if (sub == "assignments") return jsonWrite(request, [&](const json& b) { return capture.assign(id, b); });
    if (sub == "consumptions")
      return jsonWrite(request, [&](const json& b) { return capture.recordConsumption(id, b); });
    if (sub == "notes") return jsonWrite(request, [&](const json& b) { return capture.addNote(id, b); });
    if (sub == "checklist" && parts.size() == 4)
      return jsonWrite(request, [&](const json& b) { return capture.answerChecklist(id, parts[3], b); });
    if (sub == "attachments") return attachment(request, id, query);
    return error(404, "not_found", "no such resource: " + sub);
  }

  // Streams the body into the store in pieces; for multipart, the form fields kind, fileName
  // and contentType must come before the file part.
  class AttachmentPart final : public Poco::Net::PartHandler {
   public:
    AttachmentPart(ApiHandler& api, std::string workOrderId, Poco::Net::HTMLForm& form)
        : api_(api), workOrderId_(std::move(workOrderId)), form_(form) {}
    void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
      if (done_) return;
      done_ = true;
      std::string disposition;
      Poco::Net::NameValueCollection params;
      Poco::Net::MessageHeader::splitParameters(header.get("Content-Disposition", ""), disposition, params);
      storage::AttachmentSpec spec;
      spec.workOrderId = workOrderId_;
      spec.kind = form_.get("kind", "");
      spec.fileName = form_.get("fileName", params.get("filename", ""));
      spec.contentType = form_.get("contentType", header.get("Content-Type", "application/octet-stream"));
      result = api_.streamAttachment(spec, stream);
    }
    Result<std::pair<storage::AttachmentWriter, std::string>> result{makeError("bad_request", "no file part")};

   private:
    ApiHandler& api_;
    std::string workOrderId_;
    Poco::Net::HTMLForm& form_;
    bool done_ = false;
  };

  // Returns the writer (not finished yet) and the hex SHA-256 of what it was given.
  Result<std::pair<storage::AttachmentWriter, std::string>> streamAttachment(const storage::AttachmentSpec& spec,
                                                                             std::istream& in) {
    if (spec.kind != "photo" && spec.kind != "signature" && spec.kind != "document")
      return makeError("invalid", "kind must be photo, signature or document");
    if (spec.fileName.empty()) return makeError("invalid", "fileName is required");
    // The name travels upstream and into whatever saves the file later: no folder parts, no
    // "." or "..", no NUL or other control characters.
    const bool control = std::any_of(spec.fileName.begin(), spec.fileName.end(),
                                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
    if (spec.fileName.size() > 255 || spec.fileName.find_first_of("/\\") != std::string::npos || control ||
        spec.fileName == "." || spec.fileName == "..")
      return makeError("invalid",
                       "fileName must be a plain name of at most 255 characters (no folders, \".\" or \"..\", "
                       "no control characters)");
    auto writer = agent_.store().beginAttachment(spec);
    if (!writer) return writer.error();
    platform::Sha256 hash;
    hash.update(spec.workOrderId + "\n" + spec.kind + "\n" + spec.fileName + "\n" + spec.contentType + "\n");
    std::string piece(kAttachmentPiece, '\0');
    const auto limit = agent_.config().attachmentMaxBytes;
    while (in.read(piece.data(), static_cast<std::streamsize>(piece.size())) || in.gcount() > 0) {
      std::string_view got(piece.data(), static_cast<std::size_t>(in.gcount()));
      if (writer->bytesWritten() + got.size() > limit)
        return makeError("payload_too_large", "attachment larger than attachments.maxBytes (" +
                                                  std::to_string(limit) + " bytes)");
      hash.update(got);
      if (auto ok = writer->append(got); !ok) return ok.error();
    }
    if (writer->bytesWritten() == 0) return makeError("invalid", "attachment body is empty");
    return std::pair<storage::AttachmentWriter, std::string>{std::move(writer).value(),
                                                             platform::hexEncode(hash.finish())};
  }

  Reply attachment(HTTPServerRequest& request, const std::string& workOrderId,
                   std::map<std::string, std::string>& query) {
    if (auto wo = agent_.store().workOrder(workOrderId); !wo) return fromError(wo.error());
    Result<std::pair<storage::AttachmentWriter, std::string>> streamed{makeError("bad_request", "no body")};
    const std::string type = request.getContentType();
    if (type.rfind("multipart/form-data", 0) == 0) {
      Poco::Net::HTMLForm form;
      AttachmentPart part(*this, workOrderId, form);
      try {
        form.load(request, request.stream(), part);
      } catch (const Poco::Exception& e) {
        return error(400, "bad_request", "malformed multipart body: " + e.displayText());
      }
      streamed = std::move(part.result);
    } else {
      storage::AttachmentSpec spec;
      spec.workOrderId = workOrderId;
      spec.kind = query["kind"];
      spec.fileName = query["fileName"];
      spec.contentType = query.count("contentType") ? query["contentType"] : (type.empty() ? "application/octet-stream" : type);
      if (request.hasContentLength() && request.getContentLength64() > 0)
        spec.expectedBytes = static_cast<std::uint64_t>(request.getContentLength64());
      streamed = streamAttachment(spec, request.stream());
    }
    if (!streamed) {
      // Read what the app is still sending (up to a bound) so it gets this answer rather than a
      // connection reset in the middle of its upload.
      std::string sink(kAttachmentPiece, '\0');
      std::uint64_t drained = 0;
      auto& in = request.stream();
      while (drained < kMaxDrainBytes && (in.read(sink.data(), static_cast<std::streamsize>(sink.size())) || in.gcount() > 0))
        drained += static_cast<std::uint64_t>(in.gcount());
      return fromError(streamed.error());
    }
    // Named references, not a structured binding: clang before 16 cannot capture one.
    storage::AttachmentWriter& writer = streamed->first;
    const std::string& hash = streamed->second;
    return idempotent(request, hash, [&]() -> Reply {
      auto finished = writer.finish();
      if (!finished) return fromError(finished.error());
      auto captured = agent_.capture().recordAttachment(*finished);
      Reply r = accepted(captured);
      if (r.status == 202) {
        r.body["attachmentId"] = finished->id;
        r.body["signatureToken"] = finished->id;
        r.body["sizeBytes"] = finished->sizeBytes;
        r.body["sha256"] = finished->sha256;
      }
      return r;
    });
  }

  Reply agentRoutes(HTTPServerRequest& request, HTTPServerResponse& response, const std::vector<std::string>& parts,
                    std::map<std::string, std::string>& query, const std::string& method) {
    auto& store = agent_.store();
    const std::string what = parts.size() > 1 ? parts[1] : "";
    if (what == "status" && parts.size() == 2 && method == "GET") return {200, agent_.status()};
    if (what == "sync" && parts.size() == 2 && method == "POST") {
      agent_.requestSync();
      return {202, {{"requested", true}}};
    }
    if (what == "events" && parts.size() == 2 && method == "GET") {
      events(response);
      return {};
    }
    if (what == "mfa" && parts.size() == 2 && method == "POST") {
      auto body = readJson(request);
      if (!body) return fromError(body.error());
      if (!body->contains("code") || !(*body)["code"].is_string())
        return error(400, "invalid", "code must be a string");
      auto r = agent_.answerMfa((*body)["code"]);
      if (!r) {
        // 401 is kept for the local API's own token; a sign-in upstream refused (wrong password
        // since, account locked: the code is upstream's) is the request's content failing.
        const int status = statusFor(r.error().code);
        return error(status == 500 ? 422 : status, r.error().code, r.error().message);
      }
      return {200, agent_.status()["session"]};
    }
    if (what == "credentials" && parts.size() == 2 && method == "POST") {
      auto body = readJson(request);
      if (!body) return fromError(body.error());
      for (const char* field : {"username", "password"})
        if (!body->contains(field) || !(*body)[field].is_string() || (*body)[field].get<std::string>().empty())
          return error(400, "invalid", std::string(field) + " must be a non-empty string");
      if (body->contains("totpSecret") && !(*body)["totpSecret"].is_string())
        return error(400, "invalid", "totpSecret must be a string");
      auto r = agent_.storeCredentials((*body)["username"], (*body)["password"], body->value("totpSecret", ""));
      if (!r) return fromError(r.error());
      return {202, {{"stored", true}, {"signIn", "started"}}};
    }
    if ((what == "outbox" || what == "rejected") && parts.size() == 2 && method == "GET") {
      storage::OutboxFilter f;
      if (what == "rejected") f.state = storage::OpState::rejected;
      if (query.count("state")) {
        f.state = storage::parseOpState(query["state"]);
        if (!f.state) return error(400, "bad_request", "state \"" + query["state"] + "\" is not an operation state");
      }
      if (query.count("workOrderId")) f.workOrderId = query["workOrderId"];
      auto limit = intParam(query, "limit", 100, 1, 1000);
      if (!limit) return fromError(limit.error());
      f.limit = *limit;
      if (query.count("afterId")) {
        auto after = intParam(query, "afterId", 0, 0, 2'000'000'000);
        if (!after) return fromError(after.error());
        f.afterId = *after;
      }
      auto ops = store.listOperations(f);
      if (!ops) return fromError(ops.error());
      json items = json::array();
      for (const auto& o : *ops) items.push_back(operationJson(o));
      return {200, {{"items", items}}};
    }
    if (what == "outbox" && parts.size() >= 3) {
      std::int64_t id = 0;
      try {
        id = std::stoll(parts[2]);
      } catch (const std::exception&) {
        return error(404, "not_found", "operation id must be a number");
      }
      if (parts.size() == 3 && method == "GET") {
        auto o = store.operation(id);
        if (!o) return fromError(o.error());
        return {200, operationJson(*o)};
      }
      if (parts.size() == 4 && method == "POST") {
        Result<void> r;
        std::lock_guard lock(agent_.writeMutex());
        if (parts[3] == "retry") {
          r = store.retryParked(id);
        } else if (parts[3] == "discard") {
          r = store.discard(id);
        } else if (parts[3] == "edit") {
          auto body = readJson(request);
          if (!body) return fromError(body.error());
          if (!body->contains("request") || !(*body)["request"].is_object())
            return error(400, "invalid", "request must be an object (the operation's new request)");
          r = agent_.capture().editParked(id, (*body)["request"]);
        } else {
          return error(404, "not_found", "no such action: " + parts[3]);
        }
        if (!r) return fromError(r.error());
        agent_.localWriteRecorded();
        auto o = store.operation(id);
        if (!o) return fromError(o.error());
        return {200, operationJson(*o)};
      }
    }
    if (what == "conflicts" && parts.size() == 2 && method == "GET") {
      auto list = store.listConflicts(query.count("all") == 0);
      if (!list) return fromError(list.error());
      json items = json::array();
      for (const auto& c : *list) items.push_back(conflictJson(c));
      return {200, {{"items", items}}};
    }
    if (what == "conflicts" && parts.size() >= 3) {
      std::int64_t id = 0;
      try {
        id = std::stoll(parts[2]);
      } catch (const std::exception&) {
        return error(404, "not_found", "conflict id must be a number");
      }
      if (parts.size() == 3 && method == "GET") {
        auto c = store.conflict(id);
        if (!c) return fromError(c.error());
        return {200, conflictJson(*c)};
      }
      if (parts.size() == 4 && parts[3] == "resolve" && method == "POST") {
        auto body = readJson(request);
        if (!body) return fromError(body.error());
        static const std::map<std::string, storage::ConflictChoice> choices = {
            {"keep_mine", storage::ConflictChoice::keepMine},
            {"take_theirs", storage::ConflictChoice::takeTheirs},
            {"edit", storage::ConflictChoice::edit}};
        if (!body->contains("choice") || !(*body)["choice"].is_string() || !choices.count((*body)["choice"]))
          return error(400, "invalid", "choice must be keep_mine, take_theirs or edit");
        std::optional<json> edited;
        if (body->contains("request")) {
          if (!(*body)["request"].is_object()) return error(400, "invalid", "request must be an object");
          edited = (*body)["request"];
        }
        if (body->contains("note") && !(*body)["note"].is_string()) return error(400, "invalid", "note must be a string");
        std::lock_guard lock(agent_.writeMutex());
        auto r = agent_.conflictDesk().resolve(id, choices.at((*body)["choice"]), edited, body->value("note", ""));
        if (!r) return fromError(r.error());
        agent_.localWriteRecorded();
        auto c = store.conflict(id);
        if (!c) return fromError(c.error());
        return {200, conflictJson(*c)};
      }
    }
    return error(404, "not_found", "no such resource: " + method + " /agent/" + what);
  }

  void events(HTTPServerResponse& response) {
    streamed_ = true;
    auto subscription = agent_.events().subscribe();
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("text/event-stream");
    response.set("Cache-Control", "no-cache");
    response.setChunkedTransferEncoding(true);
    std::ostream& out = response.send();
    out << ": fieldagent events\n\n" << std::flush;
    // The status now, so a client that connects late knows where things stand.
    out << "event: status\ndata: " << agent_.status().dump() << "\n\n" << std::flush;
    while (out.good()) {
      auto e = subscription->next();
      if (!e) break;
      out << "id: " << e->id << "\nevent: " << e->type << "\ndata: " << e->data.dump() << "\n\n" << std::flush;
    }
    agent_.events().unsubscribe(subscription);
  }

  Agent& agent_;
  const std::string& token_;
  AppIdempotency& idempotency_;
  std::string rawBody_;
  bool streamed_ = false;
  bool textBody_ = false;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(Agent& agent, const std::string& token, AppIdempotency& idempotency)
      : agent_(agent), token_(token), idempotency_(idempotency) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new ApiHandler(agent_, token_, idempotency_);
  }

 private:
  Agent& agent_;
  const std::string& token_;
  AppIdempotency& idempotency_;
};

// A request and its response in memory, for LocalApi::handle(): what HTTPServerRequestImpl
// and HTTPServerResponseImpl are over a socket.
class MemoryResponse final : public HTTPServerResponse {
 public:
  void sendContinue() override {}
  std::ostream& send() override {
    sent_ = true;
    return out_;
  }
  void sendFile(const std::string&, const std::string&) override { sent_ = true; }
  void sendBuffer(const void* buffer, std::size_t length) override {
    sent_ = true;
    out_.write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
  }
  void redirect(const std::string& uri, HTTPStatus status) override {
    setStatus(status);
    set("Location", uri);
    sent_ = true;
  }
  void requireAuthentication(const std::string&) override { setStatus(HTTP_UNAUTHORIZED); }
  bool sent() const override { return sent_; }
  std::string body() const { return out_.str(); }

 private:
  std::ostringstream out_;
  bool sent_ = false;
};

class MemoryRequest final : public HTTPServerRequest {
 public:
  MemoryRequest(std::istream& body, MemoryResponse& response)
      : body_(body), response_(response), params_(new Poco::Net::HTTPServerParams) {}
  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return address_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return address_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return *params_; }
  HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return false; }

 private:
  std::istream& body_;
  MemoryResponse& response_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::SocketAddress address_{"127.0.0.1", 0};
};

}  // namespace

std::unique_ptr<LocalApi> LocalApi::detached(Agent& agent, std::string token) {
  return std::unique_ptr<LocalApi>(new LocalApi(agent, std::move(token)));
}

Result<LocalReply> LocalApi::handle(const std::string& raw) {
  std::istringstream head(raw);
  std::istringstream body;
  MemoryResponse response;
  MemoryRequest request(body, response);
  std::string rest;
  try {
    request.read(head);  // request line and headers; the body is what follows
    const auto at = head.tellg();
    rest = at < 0 ? std::string() : raw.substr(static_cast<std::size_t>(at));
    // As the server's request does: the body is Content-Length bytes, a malformed length is
    // refused before any handler runs.
    if (request.hasContentLength()) {
      const auto length = request.getContentLength64();
      if (length < 0) return makeError("bad_request", "malformed request: negative Content-Length");
      if (static_cast<std::uint64_t>(length) < rest.size()) rest.resize(static_cast<std::size_t>(length));
    }
  } catch (const Poco::Exception& e) {
    return makeError("bad_request", "malformed request: " + e.displayText());
  }
  body.str(rest);
  ApiHandler handler(agent_, token_, *idempotency_);
  handler.handleRequest(request, response);
  return LocalReply{static_cast<int>(response.getStatus()), response.getContentType(), response.body()};
}

LocalApi::LocalApi(Agent& agent, std::string token)
    : agent_(agent),
      token_(std::move(token)),
      idempotency_(std::make_unique<AppIdempotency>(agent.config().dataDir / "app-idempotency.json")) {}

LocalApi::~LocalApi() { stop(); }

Result<std::unique_ptr<LocalApi>> LocalApi::start(Agent& agent, std::string token) {
  std::unique_ptr<LocalApi> api(new LocalApi(agent, std::move(token)));
  const auto& config = agent.config();
  try {
    Poco::Net::SocketAddress address(config.localApiBind, static_cast<Poco::UInt16>(config.localApiPort));
    Poco::Net::ServerSocket socket(address, 64);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(config.localApiMaxConnections);
    params->setMaxQueued(64);
    params->setKeepAlive(true);
    api->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new HandlerFactory(agent, api->token_, *api->idempotency_), socket, params);
    api->server_->start();
  } catch (const Poco::Exception& e) {
    return makeError("bind", "local API on " + config.localApiBind + ":" + std::to_string(config.localApiPort) +
                                 ": " + e.displayText());
  }
  return api;
}

std::uint16_t LocalApi::port() const { return server_ ? server_->port() : 0; }

void LocalApi::stop() {
  if (!server_) return;
  agent_.events().close();  // event streams end, so their threads can be joined
  server_->stopAll(true);
  server_.reset();
}

Result<std::string> apiToken(const Config& config, platform::Entropy& entropy) {
  if (!config.localApiToken.empty()) return config.localApiToken;
  const auto file = config.tokenFile();
  if (std::filesystem::exists(file)) {
    auto text = platform::fs::readFile(file, 4096);
    if (!text) return makeError("config", "localApi.tokenFile " + file.string() + ": " + text.error().message);
    std::string token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() < 16) return makeError("config", "localApi.tokenFile " + file.string() + ": token too short");
    return token;
  }
  if (auto dir = platform::fs::ensureDir(file.parent_path(), 0700); !dir)
    return makeError("config", "localApi.tokenFile " + file.string() + ": " + dir.error().message);
  std::string token = platform::base64UrlEncode(entropy.bytes(32));
  if (auto w = platform::fs::atomicWrite(file, token + "\n", 0600); !w)
    return makeError("config", "localApi.tokenFile " + file.string() + ": " + w.error().message);
  return token;
}

}  // namespace fieldagent::agent
