// /agent/outbox, /agent/rejected and /agent/conflicts: the operations on their way upstream and
// the conflicts parked for a person, listed, shown and acted on. An operation and a conflict are
// served by one set of item routines, told apart by a ParkedKind.
#include <functional>
#include <map>

#include "api/handlers.hpp"
#include "api/presenters.hpp"

namespace fieldagent::agent::api {

namespace {

// An item of the outbox or of the conflicts: what its id is called, and how it is read and shown.
struct ParkedKind {
  const char* noun;        // in "<noun> id must be a number"
  const char* collection;  // under /agent/
  Result<json> (*read)(storage::Store& store, std::int64_t id);
};

const ParkedKind kOperation{"operation", "outbox", [](storage::Store& store, std::int64_t id) -> Result<json> {
                              auto o = store.outbox().operation(id);
                              if (!o) return o.error();
                              return operationJson(*o);
                            }};
const ParkedKind kConflict{"conflict", "conflicts", [](storage::Store& store, std::int64_t id) -> Result<json> {
                             auto c = store.conflicts().conflict(id);
                             if (!c) return c.error();
                             return conflictJson(*c);
                           }};

// The item's id from the path; a malformed one is an item that does not exist.
std::optional<std::int64_t> itemId(const Request& r) {
  try {
    return std::stoll(r.param("id"));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Reply badId(const ParkedKind& kind) { return error("not_found", std::string(kind.noun) + " id must be a number"); }

Reply show(Request& r, const ParkedKind& kind) {
  auto id = itemId(r);
  if (!id) return badId(kind);
  auto item = kind.read(r.context().store, *id);
  if (!item) return fromError(item.error());
  return {200, *item};
}

// Runs `action` on item `id` under the write lock, wakes the sync loop, and answers the item as
// it is now.
Reply actOn(Request& r, const ParkedKind& kind, std::int64_t id, const std::function<Result<void>()>& action) {
  auto& context = r.context();
  std::lock_guard lock(context.writeMutex);
  auto done = action();
  if (!done) return fromError(done.error());
  context.agent.localWriteRecorded();
  auto item = kind.read(context.store, id);
  if (!item) return fromError(item.error());
  return {200, *item};
}

Reply unserved(Request& r, const ParkedKind& kind) {
  if (!itemId(r)) return badId(kind);
  return error("not_found", "no such resource: " + r.method() + " /agent/" + kind.collection);
}

Reply listOperationsIn(Request& r, std::optional<storage::OpState> state) {
  storage::OutboxFilter f;
  f.state = state;
  if (r.has("state")) {
    f.state = storage::parseOpState(r.query("state"));
    if (!f.state) return error("bad_request", "state \"" + r.query("state") + "\" is not an operation state");
  }
  if (r.has("workOrderId")) f.workOrderId = r.query("workOrderId");
  auto limit = intParam(r, "limit", 100, 1, 1000);
  if (!limit) return fromError(limit.error());
  f.limit = *limit;
  if (r.has("afterId")) {
    auto after = intParam(r, "afterId", 0, 0, 2'000'000'000);
    if (!after) return fromError(after.error());
    f.afterId = *after;
  }
  auto ops = r.context().store.outbox().listOperations(f);
  if (!ops) return fromError(ops.error());
  json items = json::array();
  for (const auto& o : *ops) items.push_back(operationJson(o));
  return {200, {{"items", items}}};
}

}  // namespace

Reply ParkedHandlers::listOperations(Request& r) { return listOperationsIn(r, std::nullopt); }
Reply ParkedHandlers::listRejected(Request& r) { return listOperationsIn(r, storage::OpState::rejected); }
Reply ParkedHandlers::operation(Request& r) { return show(r, kOperation); }
Reply ParkedHandlers::conflict(Request& r) { return show(r, kConflict); }
Reply ParkedHandlers::unservedOperation(Request& r) { return unserved(r, kOperation); }
Reply ParkedHandlers::unservedConflict(Request& r) { return unserved(r, kConflict); }

Reply ParkedHandlers::actOnOperation(Request& r) {
  auto id = itemId(r);
  if (!id) return badId(kOperation);
  auto& context = r.context();
  const std::string& action = r.param("action");
  if (action == "retry") return actOn(r, kOperation, *id, [&] { return context.capture.retryParked(*id); });
  if (action == "discard") return actOn(r, kOperation, *id, [&] { return context.capture.discardParked(*id); });
  if (action != "edit") return error("not_found", "no such action: " + action);
  auto body = r.readJson();
  if (!body) return fromError(body.error());
  if (!body->contains("request") || !(*body)["request"].is_object())
    return error("invalid", "request must be an object (the operation's new request)");
  return actOn(r, kOperation, *id, [&] { return context.capture.editParked(*id, (*body)["request"]); });
}

Reply ParkedHandlers::listConflicts(Request& r) {
  auto list = r.context().store.conflicts().listConflicts(!r.has("all"));
  if (!list) return fromError(list.error());
  json items = json::array();
  for (const auto& c : *list) items.push_back(conflictJson(c));
  return {200, {{"items", items}}};
}

Reply ParkedHandlers::resolveConflict(Request& r) {
  auto id = itemId(r);
  if (!id) return badId(kConflict);
  auto body = r.readJson();
  if (!body) return fromError(body.error());
  static const std::map<std::string, storage::ConflictChoice> choices = {
      {"keep_mine", storage::ConflictChoice::keepMine},
      {"take_theirs", storage::ConflictChoice::takeTheirs},
      {"edit", storage::ConflictChoice::edit}};
  if (!body->contains("choice") || !(*body)["choice"].is_string() || !choices.count((*body)["choice"]))
    return error("invalid", "choice must be keep_mine, take_theirs or edit");
  std::optional<json> edited;
  if (body->contains("request")) {
    if (!(*body)["request"].is_object()) return error("invalid", "request must be an object");
    edited = (*body)["request"];
  }
  if (body->contains("note") && !(*body)["note"].is_string()) return error("invalid", "note must be a string");
  const auto choice = choices.at((*body)["choice"]);
  const std::string note = body->value("note", "");
  return actOn(r, kConflict, *id, [&] { return r.context().conflicts.resolve(*id, choice, edited, note); });
}

}  // namespace fieldagent::agent::api
