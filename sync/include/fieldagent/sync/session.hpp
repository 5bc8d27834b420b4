#pragma once
// Keeps the technician signed in: credentials and the TOTP secret from the encrypted secret
// store, TOTP codes computed on the device (with the server's clock when the device's is off),
// SMS/email challenges surfaced as a pending state an app answers, the token kept sealed and
// renewed before it expires, and once after a 401.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/sync/totp.hpp"
#include "fieldagent/sync/upstream_client.hpp"

namespace fieldagent::sync {

enum class SessionState {
  signedOut,   // no token, or it expired
  active,      // a token that is still good
  mfaPending,  // an SMS/email code was sent; waiting for the technician to type it
  failed,      // the last sign-in was refused (wrong password, locked out): needs a person
};
const char* toString(SessionState state);

struct SessionSettings {
  std::string tenant;
  // "totp" (codes made here from the stored secret), "sms" or "email" (a challenge the
  // technician answers through the local API), or "" when the tenant asks for no MFA.
  std::string mfaMethod = "totp";
};

struct SessionStatus {
  SessionState state = SessionState::signedOut;
  UserInfo user;
  std::optional<platform::WallTime> expiresAt;
  std::string mfaMethod;
  std::string deliveredTo;  // where the pending code went ("***-***-1234")
  std::string lastError;    // the server's message for the last refusal
};

// Secret-store names beyond the credentials (storage::secret::*).
namespace secret {
inline constexpr const char* kSessionExpiresAt = "session_expires_at";
inline constexpr const char* kSessionUser = "session_user";
}  // namespace secret

class SessionManager final : public TokenSource {
 public:
  SessionManager(UpstreamClient& client, storage::SecretStore& secrets, platform::Clock& clock,
                 SessionSettings settings);

  // Restores a stored, unexpired session (no network). Returns its state.
  SessionState restore();

  // Signs in with the stored credentials. Errors: "no_credentials", "mfa_pending" (a code was
  // sent; answer it with answerChallenge), "mfa_required" (the tenant wants MFA the settings do
  // not provide), "invalid_credentials", "invalid_mfa_code", "bad_totp_secret", "unreachable"
  // (transport or 5xx: try again later), or a permanent transport code ("tls_untrusted",
  // "tls_expired", ...: Outcome::blocked; the state stays and status().lastError says why).
  Result<void> signIn();
  // Answers a pending SMS/email challenge. Errors: "no_challenge", "invalid_mfa_code", ...
  Result<void> answerChallenge(const std::string& code);

  // Signs in anew when the token is within its renewal lead of expiring (the contract has no
  // refresh call: a new session is the renewal). Does nothing otherwise.
  Result<void> renewIfDue();
  // When renewIfDue() should next be called.
  std::optional<platform::WallTime> renewalDueAt() const;

  Result<void> requireEntitlement(const std::string& entitlement) const;  // "forbidden", "signed_out"
  SessionStatus status() const;
  void signOut();

  // TokenSource
  std::string token() override;
  Result<std::string> renewAfterUnauthorized(const std::string& rejectedToken) override;

 private:
  Result<void> adopt(const SessionGrant& grant);
  Result<void> finish(const Answer<SignInResult>& answer, const std::string& method);
  Result<std::string> credential(const char* name) const;

  UpstreamClient& client_;
  storage::SecretStore& secrets_;
  platform::Clock& clock_;
  SessionSettings settings_;
  std::mutex signInMutex_;  // one sign-in at a time; concurrent 401s share its result
  mutable std::mutex mutex_;
  SessionStatus status_;
  std::string token_;
  std::string challengeId_;
  std::chrono::seconds lifetime_{0};
};

}  // namespace fieldagent::sync
