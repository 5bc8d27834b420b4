#pragma once
// `fieldagent login` and `fieldagent sync`: exit codes in docs/agent.md ("Terminal client").
#include "cli_client.hpp"

namespace fieldagent::cli {

// Exit codes shared by login and sync.
enum Exit : int {
  kOk = 0,
  kFailed = 1,       // the agent or upstream unreachable, a pull or push failed, no answer in time
  kUsage = 2,        // bad or missing input (with no terminal to ask on)
  kRefused = 3,      // login: wrong username or password, or sign-in refused; sync: rejections/conflicts left
  kWrongCode = 4,    // login: the MFA code was not accepted (the challenge stays open)
  kOffline = 5,      // the device is offline
  kNotSignedIn = 6,  // sync: no active session; login: an MFA code is needed and none was given
};

int login(const Args& args, const ApiClient& api);
int syncNow(const Args& args, const ApiClient& api);

// Names of the environment variables login reads (kept out of the config's FIELDAGENT_* check).
bool isClientVariable(const std::string& name);

}  // namespace fieldagent::cli
