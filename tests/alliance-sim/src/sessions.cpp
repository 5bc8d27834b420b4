// POST /sessions: the integration token, the user's password and tenant, and MFA.
#include <algorithm>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "simulator.hpp"
#include "totp.hpp"

namespace fieldagent::sim {

namespace {
constexpr std::int64_t kChallengeSeconds = 300;

std::string randomDigits(int n) {
  const std::string bytes = platform::systemEntropy().bytes(static_cast<std::size_t>(n));
  std::string out;
  for (char b : bytes) out.push_back(static_cast<char>('0' + static_cast<unsigned char>(b) % 10));
  return out;
}

// The stored form: what the start line shows plus the contact details the challenges use.
json userJson(const SimUser& u) {
  json stored = describeUser(u);
  stored["totpSecret"] = u.totpSecret;
  stored["phone"] = u.phone;
  stored["email"] = u.email;
  return stored;
}

std::string maskedEmail(const std::string& email) {
  const auto at = email.find('@');
  if (at == std::string::npos || at == 0) return "***";
  return email.substr(0, 1) + "***" + email.substr(at);
}
}  // namespace

json describeUser(const SimUser& u) {
  return {{"username", u.username},
          {"password", u.password},
          {"tenant", u.tenant},
          {"name", u.name},
          {"userId", u.userId},
          {"entitlements", u.entitlements},
          {"technicianId", u.technicianId ? json(*u.technicianId) : json(nullptr)},
          {"mfa", u.mfa},
          {"totpSecret", u.totpSecret.empty() ? json(nullptr) : json(u.totpSecret)}};
}

void Simulator::createUsers(const std::vector<std::string>& technicianIds) {
  auto techName = [&](std::size_t index) {
    const std::string& id = technicianIds[index % technicianIds.size()];
    Statement& st = db_->run("SELECT doc FROM technicians WHERE technician_id = ?", id);
    return std::pair{id, st.step() ? json::parse(st.text(0))["name"].get<std::string>() : id};
  };
  auto password = [] { return platform::base64UrlEncode(platform::systemEntropy().bytes(12)); };
  auto totpSecret = [] { return platform::base32Encode(platform::systemEntropy().bytes(20)); };
  const std::string tenant = "global-services";
  std::vector<SimUser> users;
  users.push_back({"dispatcher@global-services.example",
                   password(),
                   tenant,
                   "Service Dispatcher",
                   "u_72c19f",
                   {"customers", "workOrders", "dispatch", "inventory"},
                   std::nullopt,
                   "totp",
                   totpSecret(),
                   "+1-404-555-0100",
                   "dispatcher@global-services.example"});
  users.push_back({"jordan.reyes@global-services.example",
                   password(),
                   tenant,
                   "Jordan Reyes",
                   "u_3b81d2",
                   {"workOrders", "customers", "inventory"},
                   technicianIds[0],
                   "totp",
                   totpSecret(),
                   "+1-404-555-0188",
                   "jordan.reyes@global-services.example"});
  auto [smsTech, smsName] = techName(1);
  users.push_back({"tech.sms@global-services.example",
                   password(),
                   tenant,
                   smsName,
                   "u_5c02e7",
                   {"workOrders", "customers", "inventory"},
                   smsTech,
                   "sms",
                   "",
                   "+1-404-555-1234",
                   "tech.sms@global-services.example"});
  auto [emailTech, emailName] = techName(2);
  users.push_back({"tech.email@global-services.example",
                   password(),
                   tenant,
                   emailName,
                   "u_9d14a6",
                   {"workOrders"},
                   emailTech,
                   "email",
                   "",
                   "+1-404-555-5678",
                   "tech.email@global-services.example"});
  users.push_back({"svc.integration@global-services.example",
                   password(),
                   tenant,
                   "Integration Service Account",
                   "u_0a77e3",
                   {"customers", "workOrders", "dispatch", "inventory"},
                   std::nullopt,
                   "none",
                   "",
                   "",
                   "svc.integration@global-services.example"});
  for (const SimUser& u : users) {
    db_->write("INSERT INTO users(username, doc) VALUES(?, ?)", u.username, userJson(u).dump());
  }
}

void Simulator::loadUsers() {
  users_.clear();
  Statement& st = db_->run("SELECT doc FROM users ORDER BY rowid");
  while (st.step()) {
    const json d = json::parse(st.text(0));
    SimUser u;
    u.username = d["username"];
    u.password = d["password"];
    u.tenant = d["tenant"];
    u.name = d["name"];
    u.userId = d["userId"];
    u.entitlements = d["entitlements"].get<std::vector<std::string>>();
    if (d["technicianId"].is_string()) u.technicianId = d["technicianId"].get<std::string>();
    u.mfa = d["mfa"];
    u.totpSecret = d["totpSecret"];
    u.phone = d["phone"];
    u.email = d["email"];
    users_.push_back(std::move(u));
  }
}

HttpReply Simulator::postSession(Request& req) {
  const std::string auth = req.call.header("authorization");
  std::string scheme = auth.substr(0, std::min<std::size_t>(6, auth.size()));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "basic " || !platform::constantTimeEqual(auth.substr(6), integrationToken_)) {
    throw HttpError{401, "unauthorized", "Authorization must be 'Basic <integration token>'"};
  }
  const json body = req.body();
  const std::string username = check::string(body, "username", "");
  const std::string password = check::string(body, "password", "");
  const std::string tenant = check::string(body, "tenant", "");
  const SimUser* user = nullptr;
  for (const SimUser& u : users_) {
    if (u.username == username) user = &u;
  }
  if (user == nullptr || !platform::constantTimeEqual(password, user->password) || tenant != user->tenant) {
    throw HttpError{401, "invalid_credentials", "unknown user, wrong password or wrong tenant"};
  }

  if (user->mfa != "none") {
    const json methods = json::array({user->mfa});
    if (!body.contains("mfa") || body["mfa"].is_null()) {
      throw HttpError{401, "mfa_required", "this user needs a second factor", json{{"methods", methods}}};
    }
    const json& mfa = body["mfa"];
    if (!mfa.is_object()) throw HttpError{400, "invalid_request", "mfa must be an object", json{{"field", "mfa"}}};
    const std::string type = check::string(mfa, "type", "mfa.");
    if (type != "totp" && type != "sms" && type != "email") {
      throw HttpError{400, "invalid_request", "mfa.type must be totp, sms or email", json{{"field", "mfa.type"}}};
    }
    if (type != user->mfa) {
      throw HttpError{401, "mfa_required", "this user's second factor is " + user->mfa, json{{"methods", methods}}};
    }
    const std::optional<std::string> code = check::optionalString(mfa, "code", "mfa.");
    if (type == "totp") {
      bool good = false;
      if (code) {
        const std::int64_t now =
            std::chrono::duration_cast<std::chrono::seconds>(clock_.realNow().time_since_epoch()).count();
        for (std::int64_t step = -1; step <= 1; ++step) {
          auto expected = testing::totpCodeFromBase32(user->totpSecret, now + step * 30);
          good = good || (expected && platform::constantTimeEqual(*expected, *code));
        }
      }
      if (!good) throw HttpError{401, "invalid_mfa_code", "the TOTP code is missing or wrong"};
    } else if (!code) {
      const std::string challengeId = newId("chl_");
      const std::string deliveredTo =
          type == "sms" ? "***-***-" + user->phone.substr(user->phone.size() - 4) : maskedEmail(user->email);
      db_->write(
          "INSERT INTO mfa_challenges(challenge_id, username, type, code, delivered_to, expires_at, created_at) "
          "VALUES(?, ?, ?, ?, ?, ?, ?)",
          challengeId, user->username, type, randomDigits(6), deliveredTo, clock_.nowUnix() + kChallengeSeconds,
          platform::formatIso8601(clock_.now()));
      return jsonReply(202, {{"challengeId", challengeId}, {"deliveredTo", deliveredTo}});
    } else {
      const std::optional<std::string> challengeId = check::optionalString(mfa, "challengeId", "mfa.");
      bool good = false;
      if (challengeId) {
        Statement& st = db_->run(
            "SELECT code, expires_at, used FROM mfa_challenges WHERE challenge_id = ? AND username = ? AND type = ?",
            *challengeId, user->username, type);
        good = st.step() && st.integer(2) == 0 && st.integer(1) > clock_.nowUnix() &&
               platform::constantTimeEqual(st.text(0), *code);
      }
      if (!good) {
        throw HttpError{401, "invalid_mfa_code", "the code does not match a live challenge (challengeId is needed)"};
      }
      db_->write("UPDATE mfa_challenges SET used = 1 WHERE challenge_id = ?", *challengeId);
    }
  }

  const std::int64_t expires = clock_.nowUnix() + config_.tokenTtlSeconds;
  const std::string header = platform::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  const std::string payload = platform::base64UrlEncode(
      json{{"sub", user->userId}, {"sid", newId("ses_")}, {"exp", expires}, {"iss", "alliance-sim"}}.dump());
  const std::string signature =
      platform::base64UrlEncode(platform::hmac(platform::HashAlg::sha256, secret_, header + "." + payload));
  const std::string token = header + "." + payload + "." + signature;
  db_->write("INSERT INTO sessions(token_hash, username, expires_at) VALUES(?, ?, ?)",
             platform::hexEncode(platform::sha256(token)), user->username, expires);
  json userBody = {{"id", user->userId}, {"name", user->name}, {"entitlements", user->entitlements}};
  if (user->technicianId) userBody["technicianId"] = *user->technicianId;
  return jsonReply(200, {{"authToken", token}, {"expiresIn", config_.tokenTtlSeconds}, {"user", userBody}});
}

}  // namespace fieldagent::sim
