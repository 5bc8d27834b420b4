// GET and POST under /work-orders: the technician's cached work orders, and the writes an app
// records on one (status moves, assignments, consumptions, notes, checklist answers).
#include "api/handlers.hpp"
#include "api/presenters.hpp"

namespace fieldagent::agent::api {

Reply WorkOrderHandlers::list(Request& r) {
  storage::WorkOrderQuery q;
  if (r.has("customerId")) q.customerId = r.query("customerId");
  if (r.has("status")) {
    const std::string status = r.query("status");
    if (!sync::knownStatus(status) && status != "open")
      return error("bad_request", "status \"" + status + "\" is not a work-order status");
    q.status = status;
  }
  if (r.has("technicianId")) q.technicianId = r.query("technicianId");
  for (const auto& [name, field] : std::vector<std::pair<std::string, std::optional<platform::WallTime>*>>{
           {"slaDueFrom", &q.slaDueFrom}, {"slaDueTo", &q.slaDueTo}, {"updatedFrom", &q.updatedFrom},
           {"updatedTo", &q.updatedTo}}) {
    auto t = timeParam(r, name);
    if (!t) return fromError(t.error());
    *field = *t;
  }
  auto page = intParam(r, "page", 1, 1, 1'000'000);
  auto size = intParam(r, "pageSize", 50, 1, 200);
  if (!page) return fromError(page.error());
  if (!size) return fromError(size.error());
  q.page = *page;
  q.pageSize = *size;
  auto list = r.context().store.workOrders().listWorkOrderRows(q);
  if (!list) return fromError(list.error());
  auto text = workOrderPageText(*list);
  if (!text) return fromError(text.error());
  Reply reply(200, json());
  reply.rawJson = std::move(text).value();
  return reply;
}

Reply WorkOrderHandlers::get(Request& r) {
  auto wo = r.context().store.workOrders().workOrder(r.param("id"));
  if (!wo) return fromError(wo.error());
  return {200, workOrderJson(std::move(*wo))};
}

Reply WorkOrderHandlers::invoice(Request& r) {
  auto inv = r.context().capture.invoice(r.param("id"));
  if (!inv) return fromError(inv.error());
  return {200, *inv};
}

Reply WorkOrderHandlers::answerChecklist(Request& r) {
  const std::string& id = r.param("id");
  const std::string& item = r.param("itemId");
  return r.jsonWrite([&](const json& b) { return r.context().capture.answerChecklist(id, item, b); });
}

Reply WorkOrderHandlers::listNotServed(Request& r) {
  return error("method_not_allowed", r.method() + " /work-orders is not served");
}

Reply WorkOrderHandlers::noSuchPart(Request& r) { return error("not_found", "no such resource: " + r.param("part")); }

Reply WorkOrderHandlers::partNotServed(Request& r) {
  return error("method_not_allowed", r.method() + " is not served here");
}

Reply WorkOrderHandlers::noSuchResource(Request& r) {
  return error("not_found", "no such resource under work order " + r.param("id"));
}

}  // namespace fieldagent::agent::api
