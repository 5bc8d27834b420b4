#include "simulator.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"
#include "generator.hpp"

namespace fieldagent::sim {

namespace {

constexpr std::int64_t kIdempotencyWindowSeconds = std::int64_t{24} * 3600;
constexpr std::size_t kMaxJsonBodyBytes = 1 << 20;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(username TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,
  expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS mfa_challenges(challenge_id TEXT PRIMARY KEY, username TEXT NOT NULL, type TEXT NOT NULL,
  code TEXT NOT NULL, delivered_to TEXT NOT NULL, expires_at INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS technicians(technician_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers(customer_id TEXT PRIMARY KEY, updated_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sites(site_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, updated_at TEXT NOT NULL,
  doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sites_by_customer ON sites(customer_id);
CREATE TABLE IF NOT EXISTS assets(asset_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, customer_id TEXT NOT NULL,
  updated_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assets_by_customer ON assets(customer_id);
CREATE TABLE IF NOT EXISTS contracts(contract_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL,
  updated_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contracts_by_customer ON contracts(customer_id);
CREATE TABLE IF NOT EXISTS parts(part_number TEXT PRIMARY KEY, updated_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inventory(warehouse_id TEXT NOT NULL, part_number TEXT NOT NULL, bin TEXT NOT NULL,
  quantity REAL NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY(warehouse_id, part_number, bin));
CREATE TABLE IF NOT EXISTS work_orders(work_order_id TEXT PRIMARY KEY, number TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL, customer_id TEXT NOT NULL, asset_id TEXT, sla_due_at TEXT, updated_at TEXT NOT NULL,
  version INTEGER NOT NULL, completed_at TEXT, resolution TEXT, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS work_orders_by_update ON work_orders(updated_at, work_order_id);
CREATE INDEX IF NOT EXISTS work_orders_by_customer ON work_orders(customer_id);
CREATE INDEX IF NOT EXISTS work_orders_by_sla ON work_orders(sla_due_at);
CREATE INDEX IF NOT EXISTS work_orders_by_asset ON work_orders(asset_id);
CREATE TABLE IF NOT EXISTS work_order_technicians(technician_id TEXT NOT NULL, work_order_id TEXT NOT NULL,
  PRIMARY KEY(technician_id, work_order_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS work_order_technicians_by_work_order ON work_order_technicians(work_order_id);
CREATE TABLE IF NOT EXISTS assignments(assignment_id TEXT PRIMARY KEY, work_order_id TEXT NOT NULL,
  doc TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS assignments_by_work_order ON assignments(work_order_id);
CREATE TABLE IF NOT EXISTS consumptions(consumption_id TEXT PRIMARY KEY, work_order_id TEXT NOT NULL,
  doc TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS consumptions_by_work_order ON consumptions(work_order_id, created_at);
CREATE TABLE IF NOT EXISTS attachments(attachment_id TEXT PRIMARY KEY, work_order_id TEXT NOT NULL,
  upload_token TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, file_name TEXT NOT NULL, content_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, captured_at TEXT, offset INTEGER NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_by_work_order ON attachments(work_order_id, created_at);
CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
  content_type TEXT NOT NULL, headers TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
)SQL";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string randomToken(std::size_t bytes) { return platform::base64UrlEncode(platform::systemEntropy().bytes(bytes)); }

}  // namespace

// ---- shared helpers ----------------------------------------------------------------------

std::string HttpReply::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (lower(k) == lower(name)) return v;
  }
  return {};
}

bool SimUser::entitled(const std::string& entitlement) const {
  return std::find(entitlements.begin(), entitlements.end(), entitlement) != entitlements.end();
}

json errorBody(const std::string& code, const std::string& message, const json& details) {
  json body = {{"error", code}, {"message", message}};
  if (!details.is_null()) body["details"] = details;
  return body;
}

HttpReply jsonReply(int status, const json& body) {
  HttpReply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

json pageBody(json items, const Page& page, std::int64_t total) {
  return {{"items", std::move(items)}, {"page", page.page}, {"pageSize", page.pageSize}, {"total", total}};
}

std::string canonicalTime(const std::string& text) {
  platform::WallTime t;
  if (!platform::parseIso8601(text, t)) return {};
  return platform::formatIso8601(t);
}

std::string isoFromUnix(std::int64_t seconds) {
  return platform::formatIso8601(platform::WallTime{std::chrono::seconds{seconds}});
}

std::int64_t unixFromIso(const std::string& iso) {
  platform::WallTime t;
  if (!platform::parseIso8601(iso, t)) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

json Simulator::Request::body() const {
  if (call.body.empty()) throw HttpError{400, "invalid_request", "a JSON object body is needed"};
  if (call.body.size() > kMaxJsonBodyBytes) throw HttpError{413, "payload_too_large", "the JSON body exceeds 1 MiB"};
  json parsed = json::parse(call.body, nullptr, false);
  if (parsed.is_discarded()) throw HttpError{400, "invalid_request", "the body is not valid JSON"};
  if (!parsed.is_object()) throw HttpError{400, "invalid_request", "the body must be a JSON object"};
  return parsed;
}

std::optional<std::string> Simulator::Request::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Page Simulator::Request::page() const {
  Page p;
  auto parse = [&](const std::string& name, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    auto v = param(name);
    if (!v) return;
    std::int64_t n = 0;
    bool ok = !v->empty() && v->size() <= 9;
    for (char c : *v) ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (ok) n = std::stoll(*v);
    if (!ok || n < lo || n > hi) {
      throw HttpError{400, "invalid_request",
                      name + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi),
                      json{{"parameter", name}}};
    }
    out = n;
  };
  parse("page", 1, 100'000'000, p.page);
  parse("pageSize", 1, 200, p.pageSize);
  return p;
}

std::optional<std::string> Simulator::Request::timeParam(const std::string& name) const {
  auto v = param(name);
  if (!v) return std::nullopt;
  std::string canonical = canonicalTime(*v);
  if (canonical.empty()) {
    throw HttpError{400, "invalid_request", name + " must be an ISO 8601 timestamp", json{{"parameter", name}}};
  }
  return canonical;
}

namespace check {
const json& field(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.contains(key))
    throw HttpError{400, "invalid_request", where + key + " is required", json{{"field", where + key}}};
  return obj[key];
}
std::string string(const json& obj, const std::string& key, const std::string& where, bool required) {
  if (!obj.contains(key) || obj[key].is_null()) {
    if (required) throw HttpError{400, "invalid_request", where + key + " is required", json{{"field", where + key}}};
    return {};
  }
  if (!obj[key].is_string() || (required && obj[key].get<std::string>().empty())) {
    throw HttpError{400, "invalid_request", where + key + " must be a non-empty string", json{{"field", where + key}}};
  }
  return obj[key].get<std::string>();
}
std::optional<std::string> optionalString(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  if (!obj[key].is_string()) {
    throw HttpError{400, "invalid_request", where + key + " must be a string or null", json{{"field", where + key}}};
  }
  return obj[key].get<std::string>();
}
std::string timestamp(const json& obj, const std::string& key, const std::string& where) {
  std::string canonical = canonicalTime(string(obj, key, where));
  if (canonical.empty()) {
    throw HttpError{400, "invalid_request", where + key + " must be an ISO 8601 timestamp",
                    json{{"field", where + key}}};
  }
  return canonical;
}
std::optional<std::string> optionalTimestamp(const json& obj, const std::string& key, const std::string& where) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  return timestamp(obj, key, where);
}
double number(const json& obj, const std::string& key, const std::string& where, double min) {
  const json& v = field(obj, key, where);
  if (!v.is_number() || v.get<double>() < min) {
    throw HttpError{400, "invalid_request", where + key + " must be a number of at least " + json(min).dump(),
                    json{{"field", where + key}}};
  }
  return v.get<double>();
}
void onlyKeys(const json& obj, const std::vector<std::string>& allowed, const std::string& where) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      throw HttpError{400, "invalid_request", where + k + " is not a field this endpoint accepts",
                      json{{"field", where + k}}};
    }
  }
}
}  // namespace check

// ---- lifecycle ---------------------------------------------------------------------------

Simulator::Simulator(const SimConfig& config, const platform::Clock& realClock)
    : config_(config), clock_(realClock), faults_(config.faultSeed) {
  faults_.set(config.faults);
}

Simulator::~Simulator() = default;

Result<std::unique_ptr<Simulator>> Simulator::open(const SimConfig& config, const platform::Clock& realClock) {
  auto dir = platform::fs::ensureDir(config.dataDir / "uploads", 0700);
  if (!dir) return dir.error();
  std::unique_ptr<Simulator> sim(new Simulator(config, realClock));
  try {
    sim->db_ = std::make_unique<Database>(config.dataDir / "alliance-sim.db");
    sim->initialise();
  } catch (const SqlError& e) {
    return makeError("db", e.what());
  }
  return sim;
}

std::string Simulator::meta(const std::string& key) {
  Statement& st = db_->run("SELECT value FROM meta WHERE key = ?", key);
  return st.step() ? st.text(0) : std::string();
}

void Simulator::setMeta(const std::string& key, const std::string& value) {
  db_->write("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key,
             value);
}

void createSchema(Database& db) { db.exec(kSchema); }

void Simulator::initialise() {
  createSchema(*db_);
  if (meta("schema").empty()) {
    Transaction tx(*db_);
    std::vector<std::string> technicians =
        generateData(*db_, config_.dataDir / "uploads", config_.workOrders, config_.technicians);
    setMeta("secret", platform::hexEncode(platform::systemEntropy().bytes(32)));
    // What follows "Basic " as is: the seed hands integrators an already base64-encoded token.
    setMeta("integration_token", platform::base64Encode("int_local:" + randomToken(24)));
    setMeta("admin_token", "adm_" + randomToken(24));
    setMeta("seed", std::to_string(config_.workOrders));
    createUsers(technicians);
    setMeta("schema", "1");
    tx.commit();
    createdNow_ = true;
  }
  secret_ = *platform::hexDecode(meta("secret"));
  integrationToken_ = meta("integration_token");
  adminToken_ = meta("admin_token");
  loadUsers();
  Statement& st = db_->run(
      "SELECT MAX(m) FROM (SELECT MAX(updated_at) AS m FROM work_orders UNION ALL "
      "SELECT MAX(updated_at) FROM inventory)");
  highWater_ = st.step() ? st.text(0) : std::string();
}

void Simulator::setOrigin(const std::string& origin) {
  std::lock_guard lock(mutex_);
  origin_ = origin;
}

std::string Simulator::baseUrl() const { return origin_ + config_.pathPrefix; }

std::size_t Simulator::maxBodyBytes() const {
  return std::max<std::size_t>(kMaxJsonBodyBytes, static_cast<std::size_t>(config_.maxChunkBytes));
}

json Simulator::startLine() const {
  json users = json::array();
  for (const SimUser& u : users_) users.push_back(describeUser(u));
  return {{"baseUrl", baseUrl()},      {"adminUrl", baseUrl() + "/_admin"},   {"integrationToken", integrationToken_},
          {"adminToken", adminToken_}, {"dataDir", config_.dataDir.string()}, {"users", users}};
}

// ---- request handling --------------------------------------------------------------------

HttpReply Simulator::handle(const HttpCall& call) {
  std::string path;
  std::map<std::string, std::string> query;
  try {
    Poco::URI uri(call.target);
    path = uri.getPath();
    for (const auto& [k, v] : uri.getQueryParameters()) query.emplace(k, v);
  } catch (const Poco::Exception&) {
    return jsonReply(400, errorBody("invalid_request", "the request target is not a valid URI"));
  }
  const std::string& prefix = config_.pathPrefix;
  if (path.compare(0, prefix.size(), prefix) != 0 || (path.size() > prefix.size() && path[prefix.size()] != '/')) {
    return jsonReply(404, errorBody("not_found", "no such path; the API lives under " + prefix));
  }
  Request req{call, path, {}, std::move(query)};
  std::size_t pos = prefix.size();
  while (pos < path.size()) {
    std::size_t next = path.find('/', pos + 1);
    if (next == std::string::npos) next = path.size();
    if (next > pos + 1) req.segments.push_back(path.substr(pos + 1, next - pos - 1));
    pos = next;
  }

  const bool isAdmin = !req.segments.empty() && req.segments[0] == "_admin";
  Fault fault = Fault::none;
  int latencyMs = 0;
  int retryAfter = 1;
  if (!isAdmin) fault = faults_.pick(path.substr(prefix.size()), latencyMs, retryAfter);

  HttpReply reply;
  if (fault == Fault::error503 || fault == Fault::throttle429) {
    reply = fault == Fault::error503
                ? jsonReply(503, errorBody("service_unavailable", "injected fault: service unavailable"))
                : jsonReply(429, errorBody("rate_limited", "injected fault: too many requests"));
    reply.headers.emplace_back("Retry-After", std::to_string(retryAfter));
  } else if (fault == Fault::error500) {
    reply = jsonReply(500, errorBody("internal", "injected fault: internal error"));
  } else {
    std::lock_guard lock(mutex_);
    try {
      reply = route(req);
    } catch (const HttpError& e) {
      reply = jsonReply(e.status, errorBody(e.code, e.message, e.details));
      reply.headers = e.headers;
      if (e.status == 401 && e.code == "unauthorized") reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    } catch (const std::exception& e) {
      reply = jsonReply(500, errorBody("internal", std::string("alliance-sim failed: ") + e.what()));
    }
  }
  reply.latencyMs = latencyMs;
  reply.dropConnection = fault == Fault::drop;
  if (!isAdmin) {
    std::lock_guard lock(statsMutex_);
    ++answersByStatus_[reply.status];
  }
  return reply;
}

namespace {
HttpReply methodNotAllowed(const std::string& allow) {
  HttpReply r = jsonReply(405, errorBody("method_not_allowed", "allowed here: " + allow));
  r.headers.emplace_back("Allow", allow);
  return r;
}
}  // namespace

HttpReply Simulator::route(Request& req) {
  const auto& s = req.segments;
  const std::string& m = req.call.method;
  const bool writes = m != "GET" && m != "HEAD" && m != "OPTIONS";
  std::optional<Transaction> tx;
  if (writes) tx.emplace(*db_);
  auto finish = [&](HttpReply reply) {
    if (tx && (reply.status < 300 || reply.keepChanges)) tx->commit();
    return reply;
  };
  using H = HttpReply (Simulator::*)(Request&);
  auto post = [&](H handler) { return finish(withIdempotency(req, handler)); };
  auto one = [&](const char* method, H handler) {
    if (m != method) return methodNotAllowed(method);
    return m == std::string("POST") ? post(handler) : finish((this->*handler)(req));
  };

  if (s.empty()) throw HttpError{404, "not_found", "no such path"};
  const std::string& root = s[0];
  if (root == "_admin") return finish(admin(req));
  if (root == "sessions" && s.size() == 1) return one("POST", &Simulator::postSession);
  if ((root == "uploads") && s.size() == 2) return finish(uploadResource(req));
  if (root == "downloads" && s.size() == 2) return one("GET", &Simulator::download);
  if (root == "work-orders") {
    if (s.size() == 1) return one("GET", &Simulator::listWorkOrders);
    if (s.size() == 2) {
      if (m == "GET") return getWorkOrder(req);
      if (m == "PATCH") return finish(patchWorkOrder(req));
      return methodNotAllowed("GET, PATCH");
    }
    const std::string& sub = s[2];
    if (s.size() == 3 && sub == "status") return one("POST", &Simulator::postStatus);
    if (s.size() == 3 && sub == "assignments") return one("POST", &Simulator::postAssignment);
    if (s.size() == 3 && sub == "consumptions") {
      if (m == "GET") return listConsumptions(req);
      if (m == "POST") return post(&Simulator::postConsumption);
      return methodNotAllowed("GET, POST");
    }
    if (s.size() == 3 && sub == "attachments") {
      if (m == "GET") return listAttachments(req);
      if (m == "POST") return post(&Simulator::postAttachment);
      return methodNotAllowed("GET, POST");
    }
    if (s.size() == 5 && sub == "attachments" && s[4] == "upload-url") {
      return one("POST", &Simulator::refreshUploadUrl);
    }
    if (s.size() == 5 && sub == "attachments" && s[4] == "complete") {
      return one("POST", &Simulator::completeAttachment);
    }
    throw HttpError{404, "not_found", "no such path"};
  }
  if (m != "GET") {
    static const std::vector<std::string> kReadOnly = {"customers", "sites",     "assets",     "contracts",
                                                       "parts",     "inventory", "technicians"};
    if (std::find(kReadOnly.begin(), kReadOnly.end(), root) != kReadOnly.end() && s.size() <= 2) {
      return methodNotAllowed("GET");
    }
    throw HttpError{404, "not_found", "no such path"};
  }
  return referenceData(req);
}

HttpReply Simulator::withIdempotency(Request& req, HttpReply (Simulator::*handler)(Request&)) {
  const std::string key = req.call.header("idempotency-key");
  if (!req.call.hasHeader("idempotency-key")) return (this->*handler)(req);
  if (key.empty() || key.size() > 255) {
    throw HttpError{400, "invalid_request", "Idempotency-Key must be 1 to 255 characters"};
  }
  json parsed = json::parse(req.call.body, nullptr, false);
  // Whitespace and key order do not make a body "different".
  const std::string canonical = parsed.is_discarded() ? req.call.body : parsed.dump();
  const std::string fingerprint =
      platform::hexEncode(platform::sha256(req.call.method + " " + req.path + "\n" + canonical));
  const std::int64_t now = clock_.nowUnix();
  {
    Statement& st = db_->run(
        "SELECT fingerprint, status, content_type, headers, body, created_at FROM idempotency WHERE key = ?", key);
    if (st.step() && st.integer(5) + kIdempotencyWindowSeconds > now) {
      if (st.text(0) != fingerprint) {
        throw HttpError{422, "idempotency_key_reused",
                        "this Idempotency-Key was used with another request body or path"};
      }
      HttpReply stored;
      stored.status = static_cast<int>(st.integer(1));
      stored.contentType = st.text(2);
      for (const auto& pair : json::parse(st.text(3))) stored.headers.emplace_back(pair[0], pair[1]);
      stored.body = st.text(4);
      stored.headers.emplace_back("Idempotent-Replayed", "true");
      return stored;
    }
  }
  HttpReply reply = (this->*handler)(req);
  // Only a response that had an effect is kept: after an error the same key may try again.
  if (reply.status >= 200 && reply.status < 300) {
    json headers = json::array();
    for (const auto& [k, v] : reply.headers) headers.push_back({k, v});
    db_->write(
        "INSERT OR REPLACE INTO idempotency(key, fingerprint, status, content_type, headers, body, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)",
        key, fingerprint, reply.status, reply.contentType, headers.dump(), reply.body, now);
  }
  return reply;
}

const SimUser& Simulator::authenticate(Request& req) {
  if (req.user != nullptr) return *req.user;
  const std::string auth = req.call.header("authorization");
  if (auth.size() < 8 || lower(auth.substr(0, 7)) != "bearer ") {
    throw HttpError{401, "unauthorized", "a Bearer token from POST /sessions is needed"};
  }
  const std::string hash = platform::hexEncode(platform::sha256(auth.substr(7)));
  Statement& st = db_->run("SELECT username, expires_at, revoked FROM sessions WHERE token_hash = ?", hash);
  if (!st.step()) throw HttpError{401, "unauthorized", "unknown token"};
  if (st.integer(2) != 0) throw HttpError{401, "unauthorized", "the token was revoked"};
  if (st.integer(1) <= clock_.nowUnix()) throw HttpError{401, "unauthorized", "the token expired"};
  const std::string username = st.text(0);
  for (const SimUser& u : users_) {
    if (u.username == username) {
      req.user = &u;
      return u;
    }
  }
  throw HttpError{401, "unauthorized", "the token's user no longer exists"};
}

const SimUser& Simulator::requireEntitlement(Request& req, const std::string& entitlement) {
  const SimUser& user = authenticate(req);
  if (!user.entitled(entitlement)) {
    throw HttpError{403, "forbidden", "this call needs the '" + entitlement + "' entitlement",
                    json{{"entitlement", entitlement}}};
  }
  return user;
}

std::string Simulator::changeStamp() {
  std::string now = platform::formatIso8601(clock_.now());
  if (now < highWater_) return highWater_;
  highWater_ = now;
  return now;
}

std::string Simulator::newId(const std::string& prefix) {
  return prefix + platform::hexEncode(platform::systemEntropy().bytes(5));
}

std::string Simulator::signUrl(const std::string& kind, const std::string& attachmentId, std::int64_t expires) const {
  const std::string path = config_.pathPrefix + "/" + kind + "/" + attachmentId;
  const std::string sig =
      platform::hexEncode(platform::hmac(platform::HashAlg::sha256, secret_, path + "\n" + std::to_string(expires)));
  return origin_ + path + "?expires=" + std::to_string(expires) + "&signature=" + sig;
}

std::filesystem::path Simulator::uploadFile(const std::string& attachmentId) const {
  return config_.dataDir / "uploads" / (attachmentId + ".bin");
}

}  // namespace fieldagent::sim
