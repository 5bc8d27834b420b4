#pragma once
// The reference upstream's logic, independent of the HTTP library: a request comes in as an
// HttpCall and leaves as an HttpReply. http_frontend.cpp puts it behind Poco's HTTPServer.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/result.hpp"
#include "server_clock.hpp"
#include "sqlite_db.hpp"

namespace fieldagent::sim {

using nlohmann::json;

struct HttpCall {
  std::string method;
  std::string target;                          // path and query as received
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
  bool hasHeader(const std::string& lowerName) const { return headers.count(lowerName) != 0; }
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string contentType = "application/json";
  bool keepChanges = false;     // commit the request's writes even though it answers an error
  bool dropConnection = false;  // write part of the response, then close the socket
  int latencyMs = 0;            // wait this long before answering

  std::string header(const std::string& name) const;
};

// Thrown inside request handlers; handle() turns it into the contract's error body.
struct HttpError {
  int status;
  std::string code;
  std::string message;
  json details = nullptr;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

struct SimUser {
  std::string username;
  std::string password;
  std::string tenant;
  std::string name;
  std::string userId;
  std::vector<std::string> entitlements;
  std::optional<std::string> technicianId;
  std::string mfa;         // totp, sms, email or none
  std::string totpSecret;  // base32, for totp users
  std::string phone;
  std::string email;

  bool entitled(const std::string& entitlement) const;
};

// A demo user as the start line shows it (no contact details).
json describeUser(const SimUser& u);

struct SimConfig {
  std::filesystem::path dataDir;
  std::string pathPrefix = "/integrations/int_local";
  std::int64_t workOrders = 50;
  int technicians = 5;
  int tokenTtlSeconds = 3600;
  int uploadUrlTtlSeconds = 900;
  int maxChunkBytes = 4 << 20;
  FaultPlan faults;
  std::uint64_t faultSeed = 1;
  // --ignore-query: [ext] query parameters of GET /work-orders that the sim ignores, as an
  // upstream without those features would ("technicianId", "sort").
  std::set<std::string> ignoredWorkOrderQuery;
};

class Simulator {
 public:
  // Opens (or creates and fills) the state under config.dataDir.
  static Result<std::unique_ptr<Simulator>> open(const SimConfig& config, const platform::Clock& realClock);
  ~Simulator();

  // Where clients reach the server ("http://127.0.0.1:41234"); known once the socket is bound.
  void setOrigin(const std::string& origin);
  std::string baseUrl() const;
  json startLine() const;
  HttpReply handle(const HttpCall& call);

  ServerClock& clock() { return clock_; }
  FaultInjector& faults() { return faults_; }
  // Largest request body the front end should read.
  std::size_t maxBodyBytes() const;
  bool createdNow() const { return createdNow_; }

  struct Request;

 private:
  Simulator(const SimConfig& config, const platform::Clock& realClock);
  void initialise();
  HttpReply route(Request& req);
  HttpReply withIdempotency(Request& req, HttpReply (Simulator::*handler)(Request&));
  const SimUser& authenticate(Request& req);
  const SimUser& requireEntitlement(Request& req, const std::string& entitlement);

  // sessions.cpp
  HttpReply postSession(Request& req);
  void createUsers(const std::vector<std::string>& technicianIds);
  void loadUsers();
  // work_orders.cpp
  HttpReply listWorkOrders(Request& req);
  HttpReply getWorkOrder(Request& req);
  HttpReply patchWorkOrder(Request& req);
  HttpReply postStatus(Request& req);
  HttpReply postAssignment(Request& req);
  HttpReply postConsumption(Request& req);
  HttpReply listConsumptions(Request& req);
  // attachments.cpp
  HttpReply postAttachment(Request& req);
  HttpReply listAttachments(Request& req);
  HttpReply refreshUploadUrl(Request& req);
  HttpReply completeAttachment(Request& req);
  HttpReply uploadResource(Request& req);
  HttpReply download(Request& req);
  // reference_data.cpp
  HttpReply referenceData(Request& req);
  // admin.cpp
  HttpReply admin(Request& req);

  struct StoredWorkOrder {
    json doc;
    std::int64_t version;
  };
  std::optional<StoredWorkOrder> loadWorkOrder(const std::string& id);
  StoredWorkOrder requireWorkOrder(const std::string& id);
  void saveWorkOrder(const json& doc, std::int64_t version);
  HttpReply workOrderReply(int status, const StoredWorkOrder& wo);
  // 412 precondition_failed (with details.current) when If-Match names another version.
  void checkIfMatch(const Request& req, const StoredWorkOrder& wo);
  [[noreturn]] void invalidTransition(const StoredWorkOrder& wo, const std::string& message);
  bool technicianExists(const std::string& technicianId);
  std::string etagFor(const std::string& id, std::int64_t version) const;
  // The updatedAt of a change: the server clock, but never before the newest stamp already
  // handed out, so that a delta pull from the newest updatedAt it saw misses no change.
  std::string changeStamp();
  std::string newId(const std::string& prefix);
  std::string signUrl(const std::string& kind, const std::string& attachmentId, std::int64_t expires) const;
  json uploadDescriptor(const std::string& attachmentId);
  std::filesystem::path uploadFile(const std::string& attachmentId) const;

  std::string meta(const std::string& key);
  void setMeta(const std::string& key, const std::string& value);

  SimConfig config_;
  ServerClock clock_;
  FaultInjector faults_;
  std::unique_ptr<Database> db_;
  std::mutex mutex_;  // one request at a time touches the state
  std::string origin_;
  std::string secret_;  // signs URLs and session tokens
  std::string integrationToken_;
  std::string adminToken_;
  std::string highWater_;
  std::vector<SimUser> users_;
  bool createdNow_ = false;
  std::mutex statsMutex_;
  std::map<int, std::int64_t> answersByStatus_;
};

// Helpers shared by the handler files.
json errorBody(const std::string& code, const std::string& message, const json& details = nullptr);
HttpReply jsonReply(int status, const json& body);

struct Page {
  std::int64_t page = 1;
  std::int64_t pageSize = 50;
  std::int64_t offset() const { return (page - 1) * pageSize; }
};

struct Simulator::Request {
  const HttpCall& call;
  std::string path;                          // without the query
  std::vector<std::string> segments;         // after the prefix, URL-decoded
  std::map<std::string, std::string> query;  // first value of each parameter
  const SimUser* user = nullptr;

  json body() const;  // parsed JSON object, or HttpError 400
  Page page() const;  // page/pageSize, or HttpError 400
  // A timestamp parameter in canonical form, or HttpError 400 when malformed.
  std::optional<std::string> timeParam(const std::string& name) const;
  std::optional<std::string> param(const std::string& name) const;
};

json pageBody(json items, const Page& page, std::int64_t total);

// Field checks for request bodies; each throws HttpError 400 naming the field.
namespace check {
const json& field(const json& obj, const std::string& key, const std::string& where);
std::string string(const json& obj, const std::string& key, const std::string& where, bool required = true);
std::optional<std::string> optionalString(const json& obj, const std::string& key, const std::string& where);
std::string timestamp(const json& obj, const std::string& key, const std::string& where);
std::optional<std::string> optionalTimestamp(const json& obj, const std::string& key, const std::string& where);
double number(const json& obj, const std::string& key, const std::string& where, double min);
void onlyKeys(const json& obj, const std::vector<std::string>& allowed, const std::string& where);
}  // namespace check

// Creates the sim's tables where missing.
void createSchema(Database& db);

// Writes a work order's row, its searchable columns and its technician links (insert or update).
void writeWorkOrderRow(Database& db, const json& doc, std::int64_t version,
                       const std::optional<std::string>& completedAt, const std::optional<std::string>& resolution);

std::string canonicalTime(const std::string& text);  // empty when not ISO 8601
std::string isoFromUnix(std::int64_t seconds);
std::int64_t unixFromIso(const std::string& iso);

}  // namespace fieldagent::sim
