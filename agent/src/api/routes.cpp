#include "api/routes.hpp"

#include "api/handlers.hpp"

namespace fieldagent::agent::api {

using storage::ReferenceKind;

// Every request the local API serves (docs/local-api.yaml), and what it answers to the rest.
// Tried top to bottom: the first route whose method and pattern match handles the request.
const std::vector<Route>& routes() {
  using R = ReferenceHandlers;
  using W = WorkOrderHandlers;
  static const std::vector<Route> table = {
      {"GET", "/health", &AgentHandlers::health},
      {"GET", "/metrics", &AgentHandlers::metrics},

      {"GET", "/work-orders", &WorkOrderHandlers::list},
      {"*", "/work-orders", &WorkOrderHandlers::listNotServed},
      {"GET", "/work-orders/{id}", &WorkOrderHandlers::get},
      {"GET", "/work-orders/{id}/invoice", &WorkOrderHandlers::invoice},
      {"GET", "/work-orders/{id}/attachments", &AttachmentHandlers::list},
      {"POST", "/work-orders/{id}/status", &W::capture<&sync::Capture::moveStatus>},
      {"POST", "/work-orders/{id}/assignments", &W::capture<&sync::Capture::assign>},
      {"POST", "/work-orders/{id}/consumptions", &W::capture<&sync::Capture::recordConsumption>},
      {"POST", "/work-orders/{id}/notes", &W::capture<&sync::Capture::addNote>},
      {"POST", "/work-orders/{id}/checklist/{itemId}", &WorkOrderHandlers::answerChecklist},
      {"POST", "/work-orders/{id}/attachments", &AttachmentHandlers::capture},
      {"POST", "/work-orders/{id}/{part}", &WorkOrderHandlers::noSuchPart},
      {"*", "/work-orders/{id}/{part}", &WorkOrderHandlers::partNotServed},
      {"*", "/work-orders/{id}/checklist/{itemId}", &WorkOrderHandlers::partNotServed},
      {"*", "/work-orders/{id}/**", &WorkOrderHandlers::noSuchResource},

      {"GET", "/agent/status", &AgentHandlers::status},
      {"POST", "/agent/sync", &AgentHandlers::sync},
      {"GET", "/agent/events", &AgentHandlers::events},
      {"POST", "/agent/mfa", &SessionHandlers::mfa},
      {"POST", "/agent/credentials", &SessionHandlers::credentials},
      {"GET", "/agent/outbox", &ParkedHandlers::listOperations},
      {"GET", "/agent/rejected", &ParkedHandlers::listRejected},
      {"GET", "/agent/outbox/{id}", &ParkedHandlers::operation},
      {"POST", "/agent/outbox/{id}/{action}", &ParkedHandlers::actOnOperation},
      {"*", "/agent/outbox/{id}/**", &ParkedHandlers::unservedOperation},
      {"GET", "/agent/conflicts", &ParkedHandlers::listConflicts},
      {"GET", "/agent/conflicts/{id}", &ParkedHandlers::conflict},
      {"POST", "/agent/conflicts/{id}/resolve", &ParkedHandlers::resolveConflict},
      {"*", "/agent/conflicts/{id}/**", &ParkedHandlers::unservedConflict},
      {"*", "/agent/**", &AgentHandlers::noSuchResource},

      {"GET", "/inventory", &R::inventory},
      {"GET", "/customers", &R::list<ReferenceKind::customer>},
      {"GET", "/customers/{id}", &R::get<ReferenceKind::customer>},
      {"GET", "/sites", &R::list<ReferenceKind::site>},
      {"GET", "/sites/{id}", &R::get<ReferenceKind::site>},
      {"GET", "/assets", &R::list<ReferenceKind::asset>},
      {"GET", "/assets/{id}", &R::get<ReferenceKind::asset>},
      {"GET", "/contracts", &R::list<ReferenceKind::contract>},
      {"GET", "/contracts/{id}", &R::get<ReferenceKind::contract>},
      {"GET", "/parts", &R::list<ReferenceKind::part>},
      {"GET", "/parts/{id}", &R::get<ReferenceKind::part>},
      {"GET", "/technicians", &R::list<ReferenceKind::technician>},
      {"GET", "/technicians/{id}", &R::get<ReferenceKind::technician>},

      {"*", "/**", &noSuchResource},
  };
  return table;
}

std::vector<std::string> splitPath(const std::string& path) {
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

namespace {

std::optional<RouteMatch> matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments) {
  RouteMatch m;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p == "**") {
      m.rest.assign(segments.begin() + static_cast<std::ptrdiff_t>(i), segments.end());
      return m;
    }
    if (i >= segments.size()) return std::nullopt;
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      m.params.emplace_back(p.substr(1, p.size() - 2), segments[i]);
    } else if (p != segments[i]) {
      return std::nullopt;
    }
  }
  if (pattern.size() != segments.size()) return std::nullopt;
  return m;
}

}  // namespace

Matched findRoute(const std::string& method, const std::vector<std::string>& segments) {
  // The patterns split once, in the table's order.
  static const std::vector<std::vector<std::string>> patterns = [] {
    std::vector<std::vector<std::string>> out;
    for (const auto& route : routes()) out.push_back(splitPath(route.pattern));
    return out;
  }();
  const auto& table = routes();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::string routeMethod = table[i].method;
    if (routeMethod != "*" && routeMethod != method) continue;
    if (auto m = matches(patterns[i], segments)) return {&table[i], std::move(*m)};
  }
  return {};  // unreachable: the table ends with "/**"
}

}  // namespace fieldagent::agent::api
