#include "api/dispatch.hpp"

#include <Poco/URI.h>

#include "api/routes.hpp"
#include "fieldagent/platform/crypto.hpp"

namespace fieldagent::agent::api {

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

bool validUtf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

bool authorised(const HTTPServerRequest& request, const std::string& token) {
  const std::string header = request.get("Authorization", "");
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0) return false;
  return platform::constantTimeEqual(header.substr(prefix.size()), token);
}

Reply route(HTTPServerRequest& request, HTTPServerResponse& response, LocalApiContext& context,
            AppIdempotency& idempotency, const std::string& token) {
  if (!authorised(request, token)) {
    return error("unauthorized", "missing or wrong bearer token (see the agent's api-token file)");
  }
  // A target Poco cannot decode ("/a%%b", "%zz") is the client's mistake, not ours (fuzzing
  // found it answered 500).
  Poco::URI uri;
  Query query;
  try {
    uri = Poco::URI(request.getURI());
    for (const auto& [k, v] : uri.getQueryParameters()) query[k] = v;
  } catch (const Poco::Exception& e) {
    return error("bad_request", "malformed request target: " + e.displayText());
  }
  // Ids, keys and query values end up in JSON (the store, the idempotency file, upstream),
  // which holds UTF-8 only: anything else is refused here, before it can make a dump() throw
  // after a write was recorded (found by fuzzing).
  bool utf8 = validUtf8(uri.getPath()) && validUtf8(request.get("Idempotency-Key", ""));
  for (const auto& [k, v] : query) utf8 = utf8 && validUtf8(k) && validUtf8(v);
  if (!utf8) return error("bad_request", "the path, query and Idempotency-Key must be UTF-8");
  auto found = findRoute(request.getMethod(), splitPath(uri.getPath()));
  Request r(request, response, context, idempotency, uri.getPath(), std::move(query), std::move(found.match));
  return found.route->handler(r);
}

void send(HTTPServerResponse& response, const Reply& reply) {
  response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
  if (reply.replayed) response.set("Idempotent-Replayed", "true");
  if (reply.body.is_string() && reply.text) {
    response.setContentType("text/plain; version=0.0.4");
    const auto& text = reply.body.get_ref<const std::string&>();
    response.sendBuffer(text.data(), text.size());
    return;
  }
  response.setContentType("application/json");
  if (!reply.rawJson.empty()) {
    response.sendBuffer(reply.rawJson.data(), reply.rawJson.size());
    return;
  }
  // Replies echo what the request carried (a percent-decoded path, an id); bytes that are not
  // UTF-8 are replaced rather than let dump() throw and leave the client without an answer.
  std::string text = reply.body.dump(-1, ' ', false, json::error_handler_t::replace);
  response.sendBuffer(text.data(), text.size());
}

}  // namespace

void serve(HTTPServerRequest& request, HTTPServerResponse& response, LocalApiContext& context,
           AppIdempotency& idempotency, const std::string& token) {
  ++context.metrics.apiRequests;
  Reply reply;
  try {
    reply = route(request, response, context, idempotency, token);
  } catch (const std::exception& e) {
    reply = error("internal", std::string("unexpected failure: ") + e.what());
  }
  if (reply.streamed) return;
  if (reply.status >= 400) ++context.metrics.apiErrors;
  send(response, reply);
}

}  // namespace fieldagent::agent::api
