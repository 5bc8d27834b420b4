#pragma once
// One request as a handler sees it: the method, the path's named parts, the query, the body
// read as JSON, the write-once-per-Idempotency-Key helper, and the agent's parts through the
// local API's context (never the whole agent).
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/reply.hpp"
#include "fieldagent/agent/local_api_context.hpp"

namespace fieldagent::agent {
class AppIdempotency;
}

namespace fieldagent::agent::api {

using Query = std::map<std::string, std::string>;

// What a route's pattern matched: "{name}" parts by name, and what "**" took.
struct RouteMatch {
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::string> rest;
};

class Request {
 public:
  Request(Poco::Net::HTTPServerRequest& http, Poco::Net::HTTPServerResponse& response, LocalApiContext& context,
          AppIdempotency& idempotency, std::string path, Query query, RouteMatch match);

  const std::string& method() const { return method_; }
  const std::string& path() const { return path_; }  // percent-decoded
  const std::string& param(const std::string& name) const;
  const std::vector<std::string>& rest() const { return match_.rest; }
  bool has(const std::string& name) const { return query_.count(name) > 0; }
  // The query value, "" when absent.
  std::string query(const std::string& name) const;
  const Query& queryMap() const { return query_; }

  LocalApiContext& context() { return context_; }
  Poco::Net::HTTPServerRequest& http() { return http_; }
  Poco::Net::HTTPServerResponse& response() { return response_; }

  // The body as a JSON object. Errors: "payload_too_large", "bad_request".
  Result<json> readJson();
  // Runs `write` once per Idempotency-Key (with the write lock held) and remembers its answer;
  // the same key again with `requestHash` gets that answer, with another hash a 422.
  Reply idempotent(const std::string& requestHash, const std::function<Reply()>& write);
  // A JSON write: the body read, then `capture` run once per Idempotency-Key, answered 202.
  Reply jsonWrite(const std::function<Result<sync::Captured>(const json&)>& capture);

 private:
  Poco::Net::HTTPServerRequest& http_;
  Poco::Net::HTTPServerResponse& response_;
  LocalApiContext& context_;
  AppIdempotency& idempotency_;
  std::string method_;
  std::string path_;
  Query query_;
  RouteMatch match_;
  std::string rawBody_;
};

// A query parameter as an integer in [lo, hi], `def` when absent. Errors: "bad_request".
Result<int> intParam(const Request& request, const std::string& name, int def, int lo, int hi);
// A query parameter as an ISO 8601 time, nullopt when absent. Errors: "bad_request".
Result<std::optional<platform::WallTime>> timeParam(const Request& request, const std::string& name);
// The 202 answer for a recorded write, or the error it failed with.
Reply accepted(const Result<sync::Captured>& captured);

}  // namespace fieldagent::agent::api
