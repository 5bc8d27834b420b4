#include "fieldagent/sync/session.hpp"

#include "fieldagent/platform/logging.hpp"
#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::sync {

const char* toString(SessionState state) {
  switch (state) {
    case SessionState::signedOut: return "signed_out";
    case SessionState::active: return "active";
    case SessionState::mfaPending: return "mfa_pending";
    case SessionState::failed: return "failed";
  }
  return "unknown";
}

SessionManager::SessionManager(UpstreamClient& client, storage::SecretStore& secrets, platform::Clock& clock,
                               SessionSettings settings)
    : client_(client), secrets_(secrets), clock_(clock), settings_(std::move(settings)) {
  status_.mfaMethod = settings_.mfaMethod;
}

Result<std::string> SessionManager::credential(const char* name) const {
  auto value = secrets_.get(name);
  if (!value) return value.error();
  if (!value->has_value() || (*value)->empty()) {
    return makeError("no_credentials", std::string("no ") + name + " stored; set the technician's credentials first");
  }
  return **value;
}

SessionState SessionManager::restore() {
  auto token = secrets_.get(storage::secret::kSessionToken);
  auto expires = secrets_.get(secret::kSessionExpiresAt);
  auto user = secrets_.get(secret::kSessionUser);
  std::lock_guard lock(mutex_);
  if (!token || !expires || !user || !token->has_value() || !expires->has_value() || !user->has_value()) {
    return status_.state;
  }
  platform::WallTime expiresAt{};
  if (!platform::parseIso8601(**expires, expiresAt) || expiresAt <= clock_.now()) return status_.state;
  const json u = json::parse(**user, nullptr, false);
  if (!u.is_object()) return status_.state;
  token_ = **token;
  platform::logRedactor()->addSecret(token_);
  status_.state = SessionState::active;
  status_.expiresAt = expiresAt;
  status_.user.id = u.value("id", "");
  status_.user.name = u.value("name", "");
  status_.user.technicianId = u.value("technicianId", "");
  if (u.contains("entitlements") && u["entitlements"].is_array()) {
    for (const auto& e : u["entitlements"]) {
      if (e.is_string()) status_.user.entitlements.push_back(e.get<std::string>());
    }
  }
  lifetime_ = std::chrono::duration_cast<std::chrono::seconds>(expiresAt - clock_.now());
  return status_.state;
}

Result<void> SessionManager::adopt(const SessionGrant& grant) {
  const auto expiresAt = clock_.now() + grant.expiresIn;
  json user = {{"id", grant.user.id},
               {"name", grant.user.name},
               {"technicianId", grant.user.technicianId},
               {"entitlements", grant.user.entitlements}};
  platform::logRedactor()->addSecret(grant.authToken);
  // Kept sealed so a reboot in a dead zone does not need a sign-in.
  if (auto r = secrets_.put(storage::secret::kSessionToken, grant.authToken); !r) return r.error();
  if (auto r = secrets_.put(secret::kSessionExpiresAt, platform::formatIso8601(expiresAt)); !r) return r.error();
  if (auto r = secrets_.put(secret::kSessionUser, user.dump()); !r) return r.error();
  std::lock_guard lock(mutex_);
  if (!token_.empty() && token_ != grant.authToken) platform::logRedactor()->removeSecret(token_);
  token_ = grant.authToken;
  lifetime_ = grant.expiresIn;
  status_.state = SessionState::active;
  status_.user = grant.user;
  status_.expiresAt = expiresAt;
  status_.deliveredTo.clear();
  status_.lastError.clear();
  challengeId_.clear();
  return {};
}

Result<void> SessionManager::finish(const Answer<SignInResult>& answer, const std::string& method) {
  if (answer.ok()) {
    if (answer.value->grant) return adopt(*answer.value->grant);
    std::lock_guard lock(mutex_);
    status_.state = SessionState::mfaPending;
    status_.mfaMethod = method;
    status_.deliveredTo = answer.value->challenge->deliveredTo;
    challengeId_ = answer.value->challenge->challengeId;
    return makeError("mfa_pending", "a " + method + " code was sent to " + status_.deliveredTo +
                                        "; answer it through POST /agent/mfa");
  }
  if (answer.outcome == Outcome::retry) {
    return makeError("unreachable", "cannot sign in now: " + answer.message);
  }
  if (answer.outcome == Outcome::blocked) {
    // Not a refusal (the credentials may be fine), so the state stays; but the technician has to
    // see why nothing happens: a certificate, pin or configuration problem needs a person.
    std::lock_guard lock(mutex_);
    status_.lastError = answer.errorCode.str() + ": " + answer.message;
    return makeError(answer.errorCode, "cannot sign in: " + answer.message);
  }
  std::lock_guard lock(mutex_);
  status_.state = SessionState::failed;
  status_.lastError = answer.message.empty() ? answer.errorCode.str() : answer.message;
  // Upstream's 401 on the sign-in call itself is a refusal of the credentials, not of a token.
  const ErrorCode code = answer.errorCode == "unauthorized" ? ErrorCode("invalid_credentials") : answer.errorCode;
  return makeError(code, "sign-in refused: " + status_.lastError);
}

Result<void> SessionManager::signIn() {
  std::lock_guard serial(signInMutex_);
  auto username = credential(storage::secret::kUsername);
  if (!username) return username.error();
  auto password = credential(storage::secret::kPassword);
  if (!password) return password.error();
  platform::logRedactor()->addSecret(*password);

  SignIn request{*username, *password, settings_.tenant, settings_.mfaMethod, "", ""};
  if (settings_.mfaMethod == "totp") {
    auto stored = credential(storage::secret::kTotpSecret);
    if (!stored) return stored.error();
    platform::logRedactor()->addSecret(*stored);
    auto totp = parseTotpSecret(*stored);
    if (!totp) return totp.error();
    auto codeAt = [&](platform::WallTime at) { return totpCode(totp->key, at, totp->params); };
    const auto knownOffset = client_.serverClockOffset();
    request.mfaCode = codeAt(clock_.now() + knownOffset.value_or(std::chrono::seconds{0}));
    auto answer = client_.createSession(request);
    // A refused code from a device whose clock is off: the refusal's Date header tells by how
    // much, so one more try with the server's time.
    const auto learnt = client_.serverClockOffset();
    if (answer.errorCode == "invalid_mfa_code" && learnt && learnt != knownOffset &&
        std::chrono::abs(*learnt) >= totp->params.period / 2) {
      request.mfaCode = codeAt(clock_.now() + *learnt);
      answer = client_.createSession(request);
    }
    return finish(answer, "totp");
  }
  auto answer = client_.createSession(request);
  if (answer.errorCode == "mfa_required") {
    std::lock_guard lock(mutex_);
    status_.state = SessionState::failed;
    status_.lastError = "the tenant requires MFA (" + answer.details.value("methods", json::array()).dump() +
                        ") but none is configured";
    return makeError("mfa_required", status_.lastError);
  }
  return finish(answer, settings_.mfaMethod);
}

Result<void> SessionManager::answerChallenge(const std::string& code) {
  std::lock_guard serial(signInMutex_);
  std::string challengeId;
  std::string method;
  {
    std::lock_guard lock(mutex_);
    if (status_.state != SessionState::mfaPending || challengeId_.empty()) {
      return makeError("no_challenge", "no MFA challenge is pending");
    }
    challengeId = challengeId_;
    method = status_.mfaMethod;
  }
  auto username = credential(storage::secret::kUsername);
  if (!username) return username.error();
  auto password = credential(storage::secret::kPassword);
  if (!password) return password.error();
  auto answer = client_.createSession({*username, *password, settings_.tenant, method, code, challengeId});
  if (answer.errorCode == "invalid_mfa_code") {
    // A mistyped code leaves the challenge open for another try.
    std::lock_guard lock(mutex_);
    status_.lastError = answer.message;
    return makeError("invalid_mfa_code", "the code was not accepted: " + answer.message);
  }
  return finish(answer, method);
}

std::optional<platform::WallTime> SessionManager::renewalDueAt() const {
  std::lock_guard lock(mutex_);
  if (status_.state != SessionState::active || !status_.expiresAt) return std::nullopt;
  const auto fraction = std::chrono::duration_cast<std::chrono::seconds>(lifetime_ * tuning::kRenewAtRemainingFraction);
  const auto lead = std::max<std::chrono::seconds>(fraction, tuning::kRenewMinimumLead);
  return *status_.expiresAt - lead;
}

Result<void> SessionManager::renewIfDue() {
  const auto due = renewalDueAt();
  {
    std::lock_guard lock(mutex_);
    if (status_.state == SessionState::mfaPending) return makeError("mfa_pending", "waiting for the MFA code");
    if (status_.state == SessionState::active && status_.expiresAt && *status_.expiresAt <= clock_.now()) {
      status_.state = SessionState::signedOut;
    }
  }
  if (due && clock_.now() < *due) return {};
  return signIn();
}

Result<void> SessionManager::requireEntitlement(const std::string& entitlement) const {
  std::lock_guard lock(mutex_);
  if (status_.user.id.empty()) return makeError("signed_out", "the technician is not signed in");
  if (!status_.user.entitled(entitlement)) {
    return makeError("forbidden", "the signed-in user lacks the '" + entitlement + "' entitlement");
  }
  return {};
}

SessionStatus SessionManager::status() const {
  std::lock_guard lock(mutex_);
  SessionStatus s = status_;
  if (s.state == SessionState::active && s.expiresAt && *s.expiresAt <= clock_.now()) {
    s.state = SessionState::signedOut;
  }
  return s;
}

void SessionManager::signOut() {
  std::lock_guard serial(signInMutex_);
  (void)secrets_.erase(storage::secret::kSessionToken);
  std::lock_guard lock(mutex_);
  token_.clear();
  status_.state = SessionState::signedOut;
  status_.expiresAt.reset();
}

std::string SessionManager::token() {
  std::lock_guard lock(mutex_);
  return token_;
}

Result<std::string> SessionManager::renewAfterUnauthorized(const std::string& rejectedToken) {
  {
    std::lock_guard serial(signInMutex_);
    std::lock_guard lock(mutex_);
    // Another thread already signed in again while this call was in flight.
    if (!token_.empty() && token_ != rejectedToken) return token_;
    status_.state = SessionState::signedOut;
  }
  if (auto r = signIn(); !r) return r.error();
  return token();
}

}  // namespace fieldagent::sync
