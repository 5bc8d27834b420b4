#pragma once
// Typed calls to the upstream contract (shared/contract/upstream-api.md). Every call returns
// an Answer: classified, with the server's error and message, Retry-After and ETag. Bodies are
// checked before they are trusted: a malformed answer is `retry` with errorCode "bad_answer"
// and a message that says what was wrong, never a crash. A request that got no answer has the
// exchange's transport code (platform::transportError()) and is `retry` when that is transient,
// `blocked` when it is permanent (certificate, pin, name, TLS version, URL, TLS configuration).
//
// After a TLS failure that blocks an origin (the server cannot be trusted as configured) the
// client sends nothing more to that origin for tuning::kBlockedRetry: every call answers
// `blocked` at once with the same code, so neither the sign-in, the pull, the push nor an upload
// makes a handshake that is known to fail. retryNow() lifts that (connectivity changed, a sync or
// new credentials were asked for).
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/sync/answer.hpp"

namespace fieldagent::sync {

using nlohmann::json;

struct UserInfo {
  std::string id;
  std::string name;
  std::string technicianId;  // empty when the user is not a technician
  std::vector<std::string> entitlements;
  bool entitled(const std::string& name) const;
};

struct SessionGrant {
  std::string authToken;
  std::chrono::seconds expiresIn{0};
  UserInfo user;
};

struct MfaChallenge {
  std::string challengeId;
  std::string deliveredTo;
};

// What POST /sessions gave: a session, or an SMS/email challenge to answer.
struct SignInResult {
  std::optional<SessionGrant> grant;
  std::optional<MfaChallenge> challenge;
};

struct SignIn {
  std::string username;
  std::string password;
  std::string tenant;
  std::string mfaType;  // "", "totp", "sms", "email"
  std::string mfaCode;  // empty to ask for an SMS/email challenge
  std::string challengeId;
};

struct Page {
  std::vector<json> items;
  int page = 0;
  int pageSize = 0;
  long long total = 0;
};

struct WorkOrderQuery {
  std::string customerId, status, slaDueFrom, slaDueTo, updatedFrom, updatedTo, technicianId;
  bool sortByUpdatedAt = false;
  int page = 1;
  int pageSize = 50;
};

// Where the bearer token comes from, and how to get a new one after a 401. The session
// manager implements it; tests can too.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual std::string token() = 0;
  // Called after a 401 for `rejectedToken`. Returns the token to repeat the call with, or an
  // error (no credentials, MFA pending, upstream unreachable).
  virtual Result<std::string> renewAfterUnauthorized(const std::string& rejectedToken) = 0;
};

struct UpstreamConfig {
  std::string baseUrl;           // with its path prefix, e.g. https://host/integrations/int_1
  std::string integrationToken;  // for POST /sessions (Basic)
};

class UpstreamClient {
 public:
  UpstreamClient(UpstreamConfig config, platform::HttpExchange& http, platform::Clock& clock);
  void setTokenSource(TokenSource* tokens);

  Answer<SignInResult> createSession(const SignIn& signIn);

  Answer<Page> listWorkOrders(const WorkOrderQuery& query);
  Answer<json> getWorkOrder(const std::string& workOrderId);
  Answer<json> postStatus(const std::string& workOrderId, const json& body, const std::string& ifMatch,
                          const std::string& idempotencyKey);
  Answer<json> patchWorkOrder(const std::string& workOrderId, const json& body);
  Answer<json> postAssignment(const std::string& workOrderId, const json& body, const std::string& idempotencyKey);
  Answer<json> postConsumption(const std::string& workOrderId, const json& body, const std::string& idempotencyKey);
  Answer<Page> listConsumptions(const std::string& workOrderId);

  Answer<json> createAttachment(const std::string& workOrderId, const json& body, const std::string& idempotencyKey);
  Answer<json> refreshUploadUrl(const std::string& workOrderId, const std::string& attachmentId);
  Answer<json> completeAttachment(const std::string& workOrderId, const std::string& attachmentId);
  Answer<Page> listAttachments(const std::string& workOrderId);
  // tus core on a signed URL (no bearer token). The value is the server's Upload-Offset.
  Answer<long long> tusOffset(const std::string& uploadUrl);
  Answer<long long> tusPatch(const std::string& uploadUrl, long long offset, const std::string& chunk,
                             bool sendChecksum);

  // Reference data: GET <path>?<query> as a page whose items must carry `idField`.
  Answer<Page> listResource(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
                            const std::string& idField);
  Answer<json> getResource(const std::string& path, const std::string& idField);

  // The server's clock offset seen on the last answer with a Date header (server - local).
  std::optional<std::chrono::seconds> serverClockOffset() const;

  // The next call to a blocked origin is sent again (see above).
  void retryNow();

 private:
  enum class Auth { none, basic, bearer };
  // http_.exchange() behind the blocks, noting the server's Date.
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request);
  Result<platform::HttpResponse> send(const std::string& method, const std::string& url, Auth auth,
                                                const std::string& body, platform::HttpHeaders headers);
  template <class T, class Decode>
  Answer<T> call(const std::string& method, const std::string& url, Auth auth, const std::string& body,
                 platform::HttpHeaders headers, Decode decode);
  std::string url(const std::string& path) const;
  void noteDate(const platform::HttpResponse& response);

  UpstreamConfig config_;
  platform::HttpExchange& http_;
  platform::Clock& clock_;
  TokenSource* tokens_ = nullptr;
  mutable std::mutex mutex_;
  std::optional<std::chrono::seconds> clockOffset_;
  struct Block {
    platform::MonoTime until;
    Error cause;
  };
  std::map<std::string, Block> blocked_;  // by origin ("https://host:443")
};

// Percent-encodes a query component.
std::string encodeQueryComponent(const std::string& value);

}  // namespace fieldagent::sync
