#pragma once
// The local API's handlers, by resource. Each takes the request (its path parts, query, body
// and the context's parts) and answers; routes.cpp says which method and path reach which.
#include "api/reply.hpp"
#include "api/request.hpp"
#include "fieldagent/storage/store.hpp"

namespace fieldagent::agent::api {

struct WorkOrderHandlers {
  static Reply list(Request& r);
  static Reply get(Request& r);
  static Reply invoice(Request& r);
  // A write on work order {id}: the JSON body goes to the Capture call named (moveStatus,
  // assign, recordConsumption, addNote), which validates and records it.
  template <Result<sync::Captured> (sync::Capture::*write)(const std::string&, const nlohmann::json&)>
  static Reply capture(Request& r) {
    const std::string& id = r.param("id");
    return r.jsonWrite([&](const nlohmann::json& b) { return (r.context().capture.*write)(id, b); });
  }
  static Reply answerChecklist(Request& r);
  // What the table does not serve under /work-orders, with the answers apps have seen so far.
  static Reply listNotServed(Request& r);      // 405: another method on the list
  static Reply noSuchPart(Request& r);         // 404: POST to an unknown part of a work order
  static Reply partNotServed(Request& r);      // 405: another method on a part
  static Reply noSuchResource(Request& r);     // 404: anything else under a work order
};

struct AttachmentHandlers {
  static Reply list(Request& r);
  static Reply capture(Request& r);
};

// The outbox's operations and the conflicts: the parked items a technician looks at and acts on.
struct ParkedHandlers {
  static Reply listOperations(Request& r);
  static Reply listRejected(Request& r);
  static Reply operation(Request& r);
  static Reply actOnOperation(Request& r);  // retry, discard, edit
  static Reply listConflicts(Request& r);
  static Reply conflict(Request& r);
  static Reply resolveConflict(Request& r);
  // Any other request under /agent/outbox/{id} or /agent/conflicts/{id}: the id is checked
  // first, then the agent's 404.
  static Reply unservedOperation(Request& r);
  static Reply unservedConflict(Request& r);
};

struct ReferenceHandlers {
  template <storage::ReferenceKind kind>
  static Reply list(Request& r) {
    return listOf(r, kind);
  }
  template <storage::ReferenceKind kind>
  static Reply get(Request& r) {
    return getOf(r, kind);
  }
  static Reply inventory(Request& r);

 private:
  static Reply listOf(Request& r, storage::ReferenceKind kind);
  static Reply getOf(Request& r, storage::ReferenceKind kind);
};

struct AgentHandlers {
  static Reply health(Request& r);
  static Reply metrics(Request& r);
  static Reply status(Request& r);
  static Reply sync(Request& r);
  static Reply events(Request& r);
  static Reply noSuchResource(Request& r);  // 404 under /agent
};

struct SessionHandlers {
  static Reply credentials(Request& r);
  static Reply mfa(Request& r);
};

// 404 for a path no route serves.
Reply noSuchResource(Request& r);

}  // namespace fieldagent::agent::api
