#pragma once
// GET /agent/events: the agent's events as Server-Sent Events, until the client goes or the
// bus closes.
#include <Poco/Net/HTTPServerResponse.h>

#include "fieldagent/agent/local_api_context.hpp"

namespace fieldagent::agent::api {

// Writes the response itself (chunked, text/event-stream): a comment, the status now, then
// every event as it is published.
void streamEvents(LocalApiContext& context, Poco::Net::HTTPServerResponse& response);

}  // namespace fieldagent::agent::api
