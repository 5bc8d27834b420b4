#include "api/event_stream.hpp"

#include <ostream>

namespace fieldagent::agent::api {

void streamEvents(LocalApiContext& context, Poco::Net::HTTPServerResponse& response) {
  auto subscription = context.events.subscribe();
  try {
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("text/event-stream");
    response.set("Cache-Control", "no-cache");
    response.setChunkedTransferEncoding(true);
    std::ostream& out = response.send();
    out << ": fieldagent events\n\n" << std::flush;
    // The status now, so a client that connects late knows where things stand.
    out << "event: status\ndata: " << context.agent.status().dump() << "\n\n" << std::flush;
    while (out.good()) {
      auto e = subscription->next();
      if (!e) break;
      out << "id: " << e->id << "\nevent: " << e->type << "\ndata: " << e->data.dump() << "\n\n" << std::flush;
    }
  } catch (const std::exception&) {
    // The response is under way: there is no other answer to give; the stream just ends.
  }
  context.events.unsubscribe(subscription);
}

}  // namespace fieldagent::agent::api
