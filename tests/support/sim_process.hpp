#pragma once
// Starts the real alliance-sim binary for a test: on 127.0.0.1, on a free port, with its start
// line parsed into base URL, tokens and demo users; stopped with SIGTERM at the end. Link
// `fieldagent_test_sim` to use it from any test folder.
#include <sys/types.h>

#include <csignal>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldagent::testing {

struct SimUser {
  std::string username;
  std::string password;
  std::string tenant;
  std::string name;
  std::string userId;
  std::vector<std::string> entitlements;
  std::optional<std::string> technicianId;
  std::string mfa;  // totp, sms, email or none
  std::string totpSecret;
};

struct HttpResponse {
  int status = 0;                              // 0 when the exchange failed at the transport
  std::string transportError;                  // what failed then
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;

  nlohmann::json json() const;  // null when the body is not JSON
  std::string header(const std::string& name) const;
};

// One HTTP exchange with an absolute URL over a fresh connection.
HttpResponse httpCall(const std::string& method, const std::string& url, const std::string& body = "",
                      const std::map<std::string, std::string>& headers = {});

class SimProcess {
 public:
  // Runs alliance-sim with `--port 0` and `args`, and waits for its start line. Throws
  // std::runtime_error when it exits or prints something else instead.
  explicit SimProcess(const std::vector<std::string>& args = {});
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // Sends `signal` (SIGTERM by default), waits for the exit; returns the exit code (128 +
  // signal if killed by it). Later calls return 0.
  int stop(int signal = SIGTERM);
  pid_t pid() const { return pid_; }

  const nlohmann::json& startLine() const { return startLine_; }
  std::string baseUrl() const { return startLine_.at("baseUrl"); }
  std::string adminUrl() const { return startLine_.at("adminUrl"); }
  std::string integrationToken() const { return startLine_.at("integrationToken"); }
  std::string adminToken() const { return startLine_.at("adminToken"); }
  const std::vector<SimUser>& users() const { return users_; }
  // The first demo user with this MFA method ("totp", "sms", "email", "none"); with
  // `entitlement`, the first that also has it.
  const SimUser& user(const std::string& mfa, const std::string& entitlement = "") const;
  // The first demo user with this MFA method who is a technician (tech_45af1d for "totp").
  const SimUser& technicianUser(const std::string& mfa = "totp") const;

  // POST /sessions as `user`, passing its MFA (TOTP computed now; SMS/email code read from the
  // admin API). Returns the auth token; throws std::runtime_error on any other answer.
  std::string login(const SimUser& user);

  // A contract call: `path` is relative to the base URL ("/work-orders?page=2").
  HttpResponse call(const std::string& method, const std::string& path, const std::string& token,
                    const nlohmann::json& body = nullptr, const std::map<std::string, std::string>& headers = {});
  // An admin call: `path` is relative to the admin URL ("/faults").
  HttpResponse admin(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr);

 private:
  pid_t pid_ = -1;
  int stdoutFd_ = -1;
  nlohmann::json startLine_;
  std::vector<SimUser> users_;
};

}  // namespace fieldagent::testing
