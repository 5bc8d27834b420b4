#include "api/request.hpp"

#include <stdexcept>

#include "api/app_idempotency.hpp"
#include "api/presenters.hpp"
#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::agent::api {

Request::Request(Poco::Net::HTTPServerRequest& http, Poco::Net::HTTPServerResponse& response,
                 LocalApiContext& context, AppIdempotency& idempotency, std::string path, Query query,
                 RouteMatch match)
    : http_(http),
      response_(response),
      context_(context),
      idempotency_(idempotency),
      method_(http.getMethod()),
      path_(std::move(path)),
      query_(std::move(query)),
      match_(std::move(match)) {}

const std::string& Request::param(const std::string& name) const {
  for (const auto& [k, v] : match_.params)
    if (k == name) return v;
  throw std::logic_error("route has no parameter " + name);
}

std::string Request::query(const std::string& name) const {
  auto it = query_.find(name);
  return it == query_.end() ? std::string() : it->second;
}

Result<json> Request::readJson() {
  std::string body;
  body.reserve(1024);
  char buf[8192];
  auto& in = http_.stream();
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    body.append(buf, static_cast<std::size_t>(in.gcount()));
    if (body.size() > tuning::kMaxJsonBody) return makeError("payload_too_large", "request body larger than 1 MiB");
  }
  rawBody_ = body;
  if (body.empty()) return makeError("bad_request", "request body must be a JSON object");
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return makeError("bad_request", "request body is not valid JSON");
  if (!doc.is_object()) return makeError("bad_request", "request body must be a JSON object");
  return doc;
}

Reply Request::idempotent(const std::string& requestHash, const std::function<Reply()>& write) {
  const std::string key = http_.get("Idempotency-Key", "");
  if (key.size() > tuning::kMaxIdempotencyKey)
    return error("bad_request", "Idempotency-Key longer than 255 characters");
  std::lock_guard lock(context_.writeMutex);
  const std::string scoped = http_.getMethod() + " " + http_.getURI() + " " + key;
  if (!key.empty()) {
    if (auto seen = idempotency_.find(scoped)) {
      if (seen->requestHash != requestHash)
        return error("idempotency_key_reused", "Idempotency-Key " + key + " was used before with a different request");
      return {seen->status, seen->body, true};
    }
  }
  Reply reply = write();
  if (!key.empty() && reply.status < 500) idempotency_.remember(scoped, {requestHash, reply.status, reply.body});
  if (reply.status == 202) context_.agent.localWriteRecorded();
  return reply;
}

Reply Request::jsonWrite(const std::function<Result<sync::Captured>(const json&)>& capture) {
  auto body = readJson();
  if (!body) return fromError(body.error());
  const std::string hash = platform::hexEncode(platform::sha256(rawBody_));
  return idempotent(hash, [&] { return accepted(capture(*body)); });
}

Result<int> intParam(const Request& request, const std::string& name, int def, int lo, int hi) {
  if (!request.has(name)) return def;
  const std::string text = request.query(name);
  try {
    std::size_t used = 0;
    int v = std::stoi(text, &used);
    if (used != text.size() || v < lo || v > hi) throw std::out_of_range(name);
    return v;
  } catch (const std::exception&) {
    return makeError("bad_request",
                     name + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  }
}

Result<std::optional<platform::WallTime>> timeParam(const Request& request, const std::string& name) {
  if (!request.has(name)) return std::optional<platform::WallTime>{};
  platform::WallTime t;
  if (!platform::parseIso8601(request.query(name), t))
    return makeError("bad_request", name + " must be an ISO 8601 time like 2026-01-21T13:00:00Z");
  return std::optional<platform::WallTime>{t};
}

Reply accepted(const Result<sync::Captured>& captured) {
  if (!captured) return fromError(captured.error());
  return {202, acceptedJson(*captured)};
}

}  // namespace fieldagent::agent::api
