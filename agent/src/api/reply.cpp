#include "api/reply.hpp"

#include <map>

namespace fieldagent::agent::api {

Reply error(int status, const std::string& code, const std::string& message) {
  return {status, {{"error", code}, {"message", message}}};
}

int statusFor(const std::string& code) {
  static const std::map<std::string, int> table = {
      {"not_found", 404},       {"invalid", 400},         {"invalid_transition", 409}, {"forbidden", 403},
      {"signed_out", 403},      {"no_space", 507},        {"quota_exceeded", 413},     {"wrong_state", 409},
      {"already_resolved", 409}, {"no_challenge", 409},   {"invalid_mfa_code", 422},   {"no_credentials", 409},
      {"bad_request", 400},     {"payload_too_large", 413}, {"mfa_pending", 409},     {"unreachable", 503}};
  auto it = table.find(code);
  return it == table.end() ? 500 : it->second;
}

Reply fromError(const Error& e) { return error(statusFor(e.code), e.code, e.message); }

}  // namespace fieldagent::agent::api
