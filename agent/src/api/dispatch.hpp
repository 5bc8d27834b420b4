#pragma once
// Serves one request, from a connection or from memory (LocalApi::handle): the bearer token,
// the request target, the route table, the handler, the reply written out; counted in metrics.
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

#include "fieldagent/agent/local_api_context.hpp"

namespace fieldagent::agent {
class AppIdempotency;
}

namespace fieldagent::agent::api {

void serve(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
           LocalApiContext& context, AppIdempotency& idempotency, const std::string& token);

}  // namespace fieldagent::agent::api
