// Signing the technician in from an app: credentials stored (the sign-in runs in the sync
// loop), and the answer to an MFA challenge.
#include "api/handlers.hpp"

namespace fieldagent::agent::api {

Reply SessionHandlers::mfa(Request& r) {
  auto body = r.readJson();
  if (!body) return fromError(body.error());
  if (!body->contains("code") || !(*body)["code"].is_string()) return error("invalid", "code must be a string");
  auto& agent = r.context().agent;
  auto answered = agent.answerMfa((*body)["code"]);
  // 401 is kept for the local API's own token: the session turns upstream's 401 into
  // invalid_credentials, and a refusal with a code the agent does not know is upstream_rejected
  // (422, the request's content failing).
  if (!answered) return fromError(answered.error());
  return {200, agent.status()["session"]};
}

Reply SessionHandlers::credentials(Request& r) {
  auto body = r.readJson();
  if (!body) return fromError(body.error());
  for (const char* field : {"username", "password"})
    if (!body->contains(field) || !(*body)[field].is_string() || (*body)[field].get<std::string>().empty())
      return error("invalid", std::string(field) + " must be a non-empty string");
  if (body->contains("totpSecret") && !(*body)["totpSecret"].is_string())
    return error("invalid", "totpSecret must be a string");
  auto stored = r.context().agent.storeCredentials((*body)["username"], (*body)["password"], body->value("totpSecret", ""));
  if (!stored) return fromError(stored.error());
  return {202, {{"stored", true}, {"signIn", "started"}}};
}

}  // namespace fieldagent::agent::api
