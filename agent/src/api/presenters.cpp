#include "api/presenters.hpp"

#include "fieldagent/platform/clock.hpp"

namespace fieldagent::agent::api {

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

// Each stored view's JSON text with "_local" spliced in before its closing brace: no parse into
// a tree and no dump per request, which were most of a list's cost. The text is checked first
// (json::accept: the file is on disk and may be damaged); a view that already has a "_local"
// key (upstream's own) goes the slow way so ours replaces it.
Result<std::string> workOrderPageText(const storage::Page<storage::WorkOrderRow>& page) {
  std::string out = "{\"items\":[";
  bool first = true;
  for (const auto& row : page.items) {
    const std::string& text = row.docText;
    if (text.size() < 2 || text.front() != '{' || text.back() != '}' || !json::accept(text)) {
      return makeError("corrupt", "stored work order " + row.workOrderId + " is not valid JSON");
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
  return out;
}

json singlePage(json items) {
  const auto n = items.size();
  return {{"items", std::move(items)}, {"page", 1}, {"pageSize", n}, {"total", n}};
}

json acceptedJson(const sync::Captured& captured) {
  json ops = json::array();
  for (const auto& o : captured.operations) ops.push_back(o.id);
  json body = {{"writeId", captured.writeId},
               {"operationIds", ops},
               {"syncState", "pending"},
               {"warnings", captured.warnings}};
  if (!captured.detail.is_null()) body["detail"] = captured.detail;
  return body;
}

}  // namespace fieldagent::agent::api
