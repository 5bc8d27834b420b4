#include "fieldagent/sync/upstream_client.hpp"

#include <algorithm>
#include <cctype>

#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::sync {
namespace {

using platform::HttpHeaders;

// What a decoder says about a body it could not accept.
Error badAnswer(const std::string& what) { return makeError("bad_answer", what); }

bool isString(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key].is_string(); }

Result<json> expectObject(const json& body) {
  if (!body.is_object()) return badAnswer("expected a JSON object");
  return body;
}

Result<Page> decodePage(const json& body, const std::string& idField) {
  if (!body.is_object()) return badAnswer("expected a page object");
  if (!body.contains("items") || !body["items"].is_array()) return badAnswer("page without an 'items' array");
  Page page;
  auto intField = [&](const char* key, long long fallback) -> Result<long long> {
    if (!body.contains(key)) return fallback;
    if (!body[key].is_number_integer()) return badAnswer(std::string("page field '") + key + "' is not an integer");
    return body[key].get<long long>();
  };
  auto p = intField("page", 1);
  auto ps = intField("pageSize", static_cast<long long>(body["items"].size()));
  auto total = intField("total", -1);
  if (!p) return p.error();
  if (!ps) return ps.error();
  if (!total) return total.error();
  // The page number becomes an int: one beyond it is as wrong as page 0 (found by fuzz_upstream).
  if (*p < 1 || *p > 1'000'000'000 || *ps < 0 || *ps > 100000) return badAnswer("page numbers out of range");
  page.page = static_cast<int>(*p);
  page.pageSize = static_cast<int>(*ps);
  page.total = *total;
  page.items.reserve(body["items"].size());
  std::size_t index = 0;
  for (const auto& item : body["items"]) {
    if (!item.is_object()) return badAnswer("item " + std::to_string(index) + " is not an object");
    if (!idField.empty() && (!isString(item, idField.c_str()) || item[idField].get_ref<const std::string&>().empty())) {
      return badAnswer("item " + std::to_string(index) + " has no '" + idField + "' string");
    }
    page.items.push_back(item);
    ++index;
  }
  return page;
}

Result<UserInfo> decodeUser(const json& user) {
  if (!user.is_object()) return badAnswer("session without a 'user' object");
  UserInfo info;
  if (!isString(user, "id")) return badAnswer("user without an 'id' string");
  info.id = user["id"].get<std::string>();
  if (isString(user, "name")) info.name = user["name"].get<std::string>();
  if (isString(user, "technicianId")) info.technicianId = user["technicianId"].get<std::string>();
  if (user.contains("entitlements")) {
    if (!user["entitlements"].is_array()) return badAnswer("user 'entitlements' is not an array");
    for (const auto& e : user["entitlements"]) {
      if (!e.is_string()) return badAnswer("user 'entitlements' holds a non-string");
      info.entitlements.push_back(e.get<std::string>());
    }
  }
  return info;
}

Result<SignInResult> decodeSignIn(const json& body, int status) {
  if (!body.is_object()) return badAnswer("expected a JSON object");
  SignInResult result;
  if (status == 202) {
    if (!isString(body, "challengeId")) return badAnswer("MFA challenge without a 'challengeId'");
    result.challenge = MfaChallenge{body["challengeId"].get<std::string>(),
                                    isString(body, "deliveredTo") ? body["deliveredTo"].get<std::string>() : ""};
    return result;
  }
  if (!isString(body, "authToken") || body["authToken"].get_ref<const std::string&>().empty()) {
    return badAnswer("session without an 'authToken'");
  }
  if (!body.contains("expiresIn") || !body["expiresIn"].is_number_integer() || body["expiresIn"].get<long long>() <= 0) {
    return badAnswer("session without a positive integer 'expiresIn'");
  }
  auto user = decodeUser(body.contains("user") ? body["user"] : json());
  if (!user) return user.error();
  result.grant = SessionGrant{body["authToken"].get<std::string>(),
                              std::chrono::seconds{body["expiresIn"].get<long long>()}, std::move(user).value()};
  return result;
}

Result<long long> decodeUploadOffset(const platform::HttpResponse& response) {
  auto header = response.header("Upload-Offset");
  if (!header || header->empty() || header->size() > 18 ||
      !std::all_of(header->begin(), header->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return badAnswer("tus answer without a valid Upload-Offset header");
  }
  return std::stoll(*header);
}

}  // namespace

bool UserInfo::entitled(const std::string& name) const {
  return std::find(entitlements.begin(), entitlements.end(), name) != entitlements.end();
}

std::string encodeQueryComponent(const std::string& value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

UpstreamClient::UpstreamClient(UpstreamConfig config, platform::HttpExchange& http, platform::Clock& clock)
    : config_(std::move(config)), http_(http), clock_(clock) {
  while (!config_.baseUrl.empty() && config_.baseUrl.back() == '/') config_.baseUrl.pop_back();
}

void UpstreamClient::setTokenSource(TokenSource* tokens) { tokens_ = tokens; }

std::string UpstreamClient::url(const std::string& path) const { return config_.baseUrl + path; }

std::optional<std::chrono::seconds> UpstreamClient::serverClockOffset() const {
  std::lock_guard lock(mutex_);
  return clockOffset_;
}

void UpstreamClient::noteDate(const platform::HttpResponse& response) {
  // An unreadable Date header only means no skew correction from this answer.
  const auto date = response.date();
  if (!date) return;
  const auto offset = std::chrono::duration_cast<std::chrono::seconds>(*date - clock_.now());
  if (std::chrono::abs(offset) > tuning::kMaxPlausibleClockOffset) return;
  std::lock_guard lock(mutex_);
  clockOffset_ = offset;
}

void UpstreamClient::retryNow() {
  std::lock_guard lock(mutex_);
  blocked_.clear();
}

namespace {
// The origin a URL goes to, as the key of a block; empty for a URL that cannot be sent anyway.
std::string originOf(const std::string& url) {
  auto split = platform::splitUrl(url);
  if (!split) return {};
  const auto& origin = split->first;
  return origin.scheme + "://" + origin.host + ":" + std::to_string(origin.port);
}

// The failures that say the server cannot be trusted (or spoken to) as configured: every
// request to it would fail the same way. Not bad_url or response_too_large: those are about one
// URL or one answer.
bool blocksOrigin(const Error& error) {
  return platform::isPermanentTransportError(error) && error.code.name().substr(0, 4) == "tls_";
}
}  // namespace

Result<platform::HttpResponse> UpstreamClient::exchange(const platform::HttpRequest& request) {
  const std::string origin = originOf(request.url);
  {
    std::lock_guard lock(mutex_);
    auto it = blocked_.find(origin);
    if (it != blocked_.end()) {
      if (clock_.monotonic() < it->second.until) {
        return makeError(it->second.cause.code, "not sent: " + it->second.cause.message);
      }
      blocked_.erase(it);
    }
  }
  auto response = http_.exchange(request);
  if (response) {
    noteDate(*response);
  } else if (!origin.empty() && blocksOrigin(response.error())) {
    std::lock_guard lock(mutex_);
    blocked_[origin] = Block{clock_.monotonic() + tuning::kBlockedRetry, response.error()};
  }
  return response;
}

Result<platform::HttpResponse> UpstreamClient::send(const std::string& method, const std::string& target,
                                                              Auth auth, const std::string& body,
                                                              platform::HttpHeaders headers) {
  headers.emplace_back("Accept", "application/json");
  if (!body.empty() && std::none_of(headers.begin(), headers.end(), [](const auto& h) {
        return h.first == "Content-Type";
      })) {
    headers.emplace_back("Content-Type", "application/json");
  }
  std::string token;
  if (auth == Auth::basic) {
    headers.emplace_back("Authorization", "Basic " + config_.integrationToken);
  } else if (auth == Auth::bearer && tokens_ != nullptr) {
    token = tokens_->token();
    headers.emplace_back("Authorization", "Bearer " + token);
  }
  platform::HttpRequest request{method, target, headers, body};
  auto response = exchange(request);
  if (!response || response->status != 401 || auth != Auth::bearer || tokens_ == nullptr) return response;

  // A 401 on a bearer call: one new session, then the same request once more.
  auto renewed = tokens_->renewAfterUnauthorized(token);
  if (!renewed) return response;
  for (auto& [name, value] : request.headers) {
    if (name == "Authorization") value = "Bearer " + *renewed;
  }
  return exchange(request);
}

template <class T, class Decode>
Answer<T> UpstreamClient::call(const std::string& method, const std::string& target, Auth auth,
                               const std::string& body, platform::HttpHeaders headers, Decode decode) {
  Answer<T> answer;
  auto response = send(method, target, auth, body, std::move(headers));
  if (!response) {
    answer.outcome = classifyTransportFailure(response.error().code);
    answer.errorCode = response.error().code;
    answer.message = response.error().message;
    return answer;
  }
  answer.status = response->status;
  answer.outcome = classifyStatus(response->status);
  if (auto etag = response->header("ETag")) answer.etag = *etag;
  if (auto replay = response->header("Idempotent-Replayed")) answer.replayed = *replay == "true";
  if (auto retryAfter = response->header("Retry-After")) answer.retryAfter = parseRetryAfter(*retryAfter, clock_.now());

  if (answer.outcome == Outcome::ok) {
    auto decoded = decode(*response);
    if (!decoded) {
      answer.outcome = Outcome::retry;
      answer.errorCode = decoded.error().code;
      answer.message = method + " " + target + " answered " + std::to_string(response->status) + " but " +
                       decoded.error().message;
      return answer;
    }
    answer.value = std::move(decoded).value();
    return answer;
  }

  const json error = json::parse(response->body, nullptr, false);
  std::string upstreamError;
  if (error.is_object()) {
    if (isString(error, "error")) upstreamError = error["error"].get<std::string>();
    if (isString(error, "message")) answer.message = error["message"].get<std::string>();
    if (error.contains("details")) answer.details = error["details"];
  }
  const auto code = upstreamCode(upstreamError, response->status);
  answer.errorCode = code.code;
  const std::string answered = method + " " + target + " answered " + std::to_string(response->status);
  if (answer.message.empty()) {
    answer.message = answered + " " + response->reason +
                     (upstreamError.empty() ? "" : " '" + upstreamError.substr(0, 100) + "'") +
                     (response->body.empty() ? "" : ": " + response->body.substr(0, 200));
  } else if (!code.known) {
    // A code the agent does not know: the message keeps upstream's own, and the status.
    answer.message = answered + (upstreamError.empty() ? "" : " '" + upstreamError.substr(0, 100) + "'") + ": " +
                     answer.message;
  }
  return answer;
}

namespace {
// Decoders over an HttpResponse: JSON first, then shape.
template <class F>
auto jsonBody(F shape) {
  return [shape](const platform::HttpResponse& response) -> decltype(shape(json())) {
    json body = json::parse(response.body, nullptr, false);
    if (body.is_discarded()) return badAnswer("the body is not JSON");
    return shape(body);
  };
}
}  // namespace

Answer<SignInResult> UpstreamClient::createSession(const SignIn& signIn) {
  json body = {{"username", signIn.username}, {"password", signIn.password}, {"tenant", signIn.tenant}};
  if (!signIn.mfaType.empty()) {
    json mfa = {{"type", signIn.mfaType}};
    if (!signIn.mfaCode.empty()) mfa["code"] = signIn.mfaCode;
    if (!signIn.challengeId.empty()) mfa["challengeId"] = signIn.challengeId;
    body["mfa"] = std::move(mfa);
  }
  auto answer = call<SignInResult>("POST", url("/sessions"), Auth::basic, body.dump(), {},
                                   [](const platform::HttpResponse& r) -> Result<SignInResult> {
                                     json j = json::parse(r.body, nullptr, false);
                                     if (j.is_discarded()) return badAnswer("the body is not JSON");
                                     return decodeSignIn(j, r.status);
                                   });
  // On the sign-in call itself a 401 is an answer (wrong password, MFA needed), not a cue to
  // sign in again.
  if (answer.status == 401) answer.outcome = Outcome::rejected;
  return answer;
}

Answer<Page> UpstreamClient::listWorkOrders(const WorkOrderQuery& q) {
  std::vector<std::pair<std::string, std::string>> query;
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) query.emplace_back(name, value);
  };
  add("customerId", q.customerId);
  add("status", q.status);
  add("slaDueFrom", q.slaDueFrom);
  add("slaDueTo", q.slaDueTo);
  add("updatedFrom", q.updatedFrom);
  add("updatedTo", q.updatedTo);
  add("technicianId", q.technicianId);
  if (q.sortByUpdatedAt) query.emplace_back("sort", "updatedAt");
  query.emplace_back("page", std::to_string(q.page));
  query.emplace_back("pageSize", std::to_string(q.pageSize));
  return listResource("/work-orders", query, "workOrderId");
}

Answer<json> UpstreamClient::getWorkOrder(const std::string& id) {
  return getResource("/work-orders/" + encodeQueryComponent(id), "workOrderId");
}

Answer<json> UpstreamClient::postStatus(const std::string& id, const json& body, const std::string& ifMatch,
                                        const std::string& key) {
  HttpHeaders headers{{"Idempotency-Key", key}};
  if (!ifMatch.empty()) headers.emplace_back("If-Match", ifMatch);
  return call<json>("POST", url("/work-orders/" + encodeQueryComponent(id) + "/status"), Auth::bearer, body.dump(),
                    std::move(headers), jsonBody(expectObject));
}

Answer<json> UpstreamClient::patchWorkOrder(const std::string& id, const json& body) {
  return call<json>("PATCH", url("/work-orders/" + encodeQueryComponent(id)), Auth::bearer, body.dump(), {},
                    jsonBody(expectObject));
}

Answer<json> UpstreamClient::postAssignment(const std::string& id, const json& body, const std::string& key) {
  return call<json>("POST", url("/work-orders/" + encodeQueryComponent(id) + "/assignments"), Auth::bearer,
                    body.dump(), {{"Idempotency-Key", key}}, jsonBody(expectObject));
}

Answer<json> UpstreamClient::postConsumption(const std::string& id, const json& body, const std::string& key) {
  return call<json>("POST", url("/work-orders/" + encodeQueryComponent(id) + "/consumptions"), Auth::bearer,
                    body.dump(), {{"Idempotency-Key", key}}, jsonBody(expectObject));
}

Answer<Page> UpstreamClient::listConsumptions(const std::string& id) {
  return listResource("/work-orders/" + encodeQueryComponent(id) + "/consumptions", {}, "consumptionId");
}

Answer<json> UpstreamClient::createAttachment(const std::string& id, const json& body, const std::string& key) {
  return call<json>("POST", url("/work-orders/" + encodeQueryComponent(id) + "/attachments"), Auth::bearer,
                    body.dump(), {{"Idempotency-Key", key}}, jsonBody([](const json& j) -> Result<json> {
                      if (!isString(j, "attachmentId") || !isString(j, "uploadToken") || !j.contains("upload") ||
                          !isString(j["upload"], "url")) {
                        return badAnswer("attachment slot without attachmentId, uploadToken and upload.url");
                      }
                      return j;
                    }));
}

Answer<json> UpstreamClient::refreshUploadUrl(const std::string& id, const std::string& attachmentId) {
  return call<json>("POST",
                    url("/work-orders/" + encodeQueryComponent(id) + "/attachments/" +
                        encodeQueryComponent(attachmentId) + "/upload-url"),
                    Auth::bearer, "{}", {}, jsonBody([](const json& j) -> Result<json> {
                      if (!j.is_object() || !j.contains("upload") || !isString(j["upload"], "url")) {
                        return badAnswer("upload-url answer without upload.url");
                      }
                      return j;
                    }));
}

Answer<json> UpstreamClient::completeAttachment(const std::string& id, const std::string& attachmentId) {
  return call<json>("POST",
                    url("/work-orders/" + encodeQueryComponent(id) + "/attachments/" +
                        encodeQueryComponent(attachmentId) + "/complete"),
                    Auth::bearer, "{}", {}, jsonBody(expectObject));
}

Answer<Page> UpstreamClient::listAttachments(const std::string& id) {
  return listResource("/work-orders/" + encodeQueryComponent(id) + "/attachments", {}, "attachmentId");
}

Answer<long long> UpstreamClient::tusOffset(const std::string& uploadUrl) {
  auto answer = call<long long>("HEAD", uploadUrl, Auth::none, "", {{"Tus-Resumable", "1.0.0"}}, decodeUploadOffset);
  return answer;
}

Answer<long long> UpstreamClient::tusPatch(const std::string& uploadUrl, long long offset, const std::string& chunk,
                                           bool sendChecksum) {
  HttpHeaders headers{{"Tus-Resumable", "1.0.0"},
                      {"Upload-Offset", std::to_string(offset)},
                      {"Content-Type", "application/offset+octet-stream"}};
  if (sendChecksum) headers.emplace_back("Upload-Checksum", "sha256 " + platform::base64Encode(platform::sha256(chunk)));
  auto answer = call<long long>("PATCH", uploadUrl, Auth::none, chunk, std::move(headers), decodeUploadOffset);
  // 460: the chunk arrived damaged and was dropped; sending it again is the remedy.
  if (answer.status == 460) answer.outcome = Outcome::retry;
  return answer;
}

Answer<Page> UpstreamClient::listResource(const std::string& path,
                                          const std::vector<std::pair<std::string, std::string>>& query,
                                          const std::string& idField) {
  std::string target = url(path);
  char separator = '?';
  for (const auto& [name, value] : query) {
    target += separator + encodeQueryComponent(name) + "=" + encodeQueryComponent(value);
    separator = '&';
  }
  return call<Page>("GET", target, Auth::bearer, "", {},
                    jsonBody([idField](const json& j) { return decodePage(j, idField); }));
}

Answer<json> UpstreamClient::getResource(const std::string& path, const std::string& idField) {
  return call<json>("GET", url(path), Auth::bearer, "", {}, jsonBody([idField](const json& j) -> Result<json> {
                      if (!j.is_object()) return badAnswer("expected a JSON object");
                      if (!idField.empty() && !isString(j, idField.c_str())) {
                        return badAnswer("the answer has no '" + idField + "' string");
                      }
                      return j;
                    }));
}

}  // namespace fieldagent::sync
