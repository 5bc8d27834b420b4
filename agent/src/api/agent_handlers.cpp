// The agent's own resources: health, metrics, status, "sync now", the event stream, and the
// answers for paths nothing serves.
#include "api/event_stream.hpp"
#include "api/handlers.hpp"
#include "api/metrics_text.hpp"

namespace fieldagent::agent::api {

Reply AgentHandlers::health(Request&) { return {200, {{"status", "ok"}}}; }

Reply AgentHandlers::metrics(Request& r) {
  Reply reply(200, metricsText(r.context()));
  reply.text = true;
  return reply;
}

Reply AgentHandlers::status(Request& r) { return {200, r.context().agent.status()}; }

Reply AgentHandlers::sync(Request& r) {
  r.context().agent.requestSync();
  return {202, {{"requested", true}}};
}

Reply AgentHandlers::events(Request& r) {
  streamEvents(r.context(), r.response());
  Reply reply;
  reply.streamed = true;
  return reply;
}

Reply AgentHandlers::noSuchResource(Request& r) {
  const std::string what = r.rest().empty() ? "" : r.rest().front();
  return error("not_found", "no such resource: " + r.method() + " /agent/" + what);
}

Reply noSuchResource(Request& r) { return error("not_found", "no such resource: " + r.method() + " " + r.path()); }

}  // namespace fieldagent::agent::api
