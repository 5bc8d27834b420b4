// Reference data served from the cache (customers, sites, assets, contracts, parts,
// technicians) and the van's stock.
#include "api/handlers.hpp"
#include "api/presenters.hpp"

namespace fieldagent::agent::api {

Reply ReferenceHandlers::getOf(Request& r, storage::ReferenceKind kind) {
  auto doc = r.context().store.referenceData().reference(kind, r.param("id"));
  if (!doc) return fromError(doc.error());
  return {200, *doc};
}

Reply ReferenceHandlers::listOf(Request& r, storage::ReferenceKind kind) {
  auto page = intParam(r, "page", 1, 1, 1'000'000);
  auto size = intParam(r, "pageSize", 50, 1, 200);
  if (!page) return fromError(page.error());
  if (!size) return fromError(size.error());
  std::optional<std::string> parent;
  if (r.has("customerId")) parent = r.query("customerId");
  auto list = r.context().store.referenceData().listReference(kind, parent, *page, *size);
  if (!list) return fromError(list.error());
  return {200, {{"items", list->items}, {"page", list->page}, {"pageSize", list->pageSize}, {"total", list->total}}};
}

Reply ReferenceHandlers::inventory(Request& r) {
  auto& context = r.context();
  std::string warehouse = r.query("warehouseId");
  if (warehouse.empty()) {
    auto tech = context.session.status().user.technicianId;
    if (auto t = context.store.referenceData().reference(storage::ReferenceKind::technician, tech); t)
      warehouse = t->value("vanWarehouseId", "");
  }
  if (warehouse.empty()) return error("bad_request", "warehouseId is required (no van known for this user)");
  std::optional<std::string> part;
  if (r.has("partNumber")) part = r.query("partNumber");
  auto lines = context.store.referenceData().stock(warehouse, part);
  if (!lines) return fromError(lines.error());
  json items = json::array();
  for (const auto& l : *lines) items.push_back(l.doc);
  return {200, singlePage(std::move(items))};
}

}  // namespace fieldagent::agent::api
