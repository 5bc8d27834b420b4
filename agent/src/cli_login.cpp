// fieldagent login: hands the technician's credentials to the running daemon (POST
// /agent/credentials), follows its sign-in on the event stream, and answers an SMS/email
// challenge (POST /agent/mfa). The daemon holds the tenant and the MFA method (config keys
// `tenant` and `mfaMethod`); the password never comes from an argument (ps shows those).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli_commands.hpp"
#include "fieldagent/agent/tuning.hpp"

namespace fieldagent::cli {

namespace {

constexpr const char* kUsernameVar = "FIELDAGENT_USERNAME";
constexpr const char* kPasswordVar = "FIELDAGENT_PASSWORD";
constexpr const char* kTotpVar = "FIELDAGENT_TOTP_SECRET";
constexpr const char* kCodeVar = "FIELDAGENT_MFA_CODE";

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string trimLineEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// A secret from a file: its first line, without the line end.
Result<std::string> readSecretFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError("usage", "--" + flag + " " + path + ": cannot read it");
  std::string line;
  std::getline(in, line);
  line = trimLineEnd(line);
  if (line.empty()) return makeError("usage", "--" + flag + " " + path + ": the file's first line is empty");
  return line;
}

struct Outcome {
  int exit = kOk;
  std::string outcome;  // signed_in, invalid_credentials, invalid_mfa_code, ...
  std::string message;
  json session = nullptr;
};

int finish(const Args& args, const Outcome& o) {
  if (args.json) {
    json out = {{"outcome", o.outcome}, {"exitCode", o.exit}};
    if (!o.message.empty()) out["message"] = o.message;
    if (!o.session.is_null()) out["session"] = o.session;
    std::printf("%s\n", out.dump().c_str());
  } else if (o.exit == kOk) {
    std::printf("%s\n", o.message.c_str());
  } else {
    std::fprintf(stderr, "fieldagent login: %s\n", o.message.c_str());
  }
  return o.exit;
}

std::string joined(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& e : list) {
    if (!e.is_string()) continue;
    out += (out.empty() ? "" : ", ") + e.get<std::string>();
  }
  return out;
}

Outcome signedIn(const json& session) {
  Outcome o;
  o.outcome = "signed_in";
  o.session = session;
  o.message = "Signed in as " + session.value("userId", std::string("?"));
  const std::string tech = session.value("technicianId", std::string());
  if (!tech.empty()) o.message += " (technician " + tech + ")";
  const std::string ents = joined(session.value("entitlements", json::array()));
  o.message += ". Entitlements: " + (ents.empty() ? std::string("none") : ents) + ".";
  return o;
}

Outcome fail(int exit, std::string outcome, std::string message) {
  Outcome o;
  o.exit = exit;
  o.outcome = std::move(outcome);
  o.message = std::move(message);
  return o;
}

Result<json> sessionNow(const ApiClient& api) {
  auto status = api.get("/agent/status");
  if (!status) return status.error();
  if (!status->contains("session") || !(*status)["session"].is_object())
    return makeError("api", "the agent's status has no session");
  return (*status)["session"];
}

// Answers the pending challenge with `code` (asking on a terminal when it is empty and one is
// there, again after a wrong code).
Outcome answerChallenge(const Args& args, const ApiClient& api, std::string code, bool tty) {
  for (int attempt = 1;; ++attempt) {
    if (code.empty()) {
      if (!tty) {
        return fail(kNotSignedIn, "mfa_code_needed",
                    "the MFA code is missing (no terminal to ask on): answer the challenge with "
                    "`fieldagent login --code CODE` (or FIELDAGENT_MFA_CODE)");
      }
      auto typed = ask("Code: ", false);
      if (!typed || typed->empty()) return fail(kUsage, "mfa_code_needed", "no code entered");
      code = *typed;
    }
    auto r = api.call("POST", "/agent/mfa", json{{"code", code}});
    if (!r) return fail(kFailed, "unreachable", r.error().message);
    if (r->status == 200 && r->body.is_object()) {
      if (r->body.value("state", std::string()) == "active") return signedIn(r->body);
      return fail(kRefused, "sign_in_refused", "the agent answered the code but is not signed in: " + r->text);
    }
    const std::string errorName = r->body.is_object() ? r->body.value("error", std::string()) : std::string();
    const auto error = ErrorCode::parse(errorName);
    const std::string message = r->body.is_object() ? r->body.value("message", r->text) : r->text;
    if (error == ErrorCode("invalid_mfa_code")) {
      if (tty && !args.has("code") && attempt < agent::tuning::kCodeAttempts) {
        std::fprintf(stderr, "Wrong code, try again.\n");
        code.clear();
        continue;
      }
      return fail(kWrongCode, "invalid_mfa_code",
                  "wrong code: " + message + " (the challenge is still open: `fieldagent login --code CODE`)");
    }
    if (error == ErrorCode("no_challenge"))
      return fail(kFailed, "no_challenge", "no MFA challenge is pending: sign in first (`fieldagent login`)");
    if (error == ErrorCode("unreachable") || r->status >= 500)
      return fail(kFailed, errorName.empty() ? "failed" : errorName, "cannot check the code now: " + message);
    return fail(kRefused, errorName.empty() ? "sign_in_refused" : errorName, "sign-in refused: " + message);
  }
}

}  // namespace

bool isClientVariable(const std::string& name) {
  return name == kUsernameVar || name == kPasswordVar || name == kTotpVar || name == kCodeVar;
}

int login(const Args& args, const ApiClient& api) {
  if (args.has("password")) {
    std::fprintf(stderr,
                 "fieldagent login: --password is not accepted (other users see arguments in `ps`): use "
                 "--password-file FILE, --password-stdin, FIELDAGENT_PASSWORD or the prompt\n");
    return kUsage;
  }
  if (args.has("tenant") || args.has("mfa-method")) {
    std::fprintf(stderr,
                 "fieldagent login: the tenant and the MFA method are the agent's settings (config keys "
                 "`tenant` and `mfaMethod`, see docs/configuration.md), not login options\n");
    return kUsage;
  }
  long timeoutSeconds = agent::tuning::kLoginCommandTimeoutSeconds;
  if (args.has("timeout")) {
    char* end = nullptr;
    timeoutSeconds = std::strtol(args.options.at("timeout").c_str(), &end, 10);
    if (!end || *end || timeoutSeconds < 1 || timeoutSeconds > 3600) {
      std::fprintf(stderr, "fieldagent login: --timeout needs seconds from 1 to 3600\n");
      return kUsage;
    }
  }
  // With --password-stdin, stdin is the password, not a terminal to ask on.
  const bool tty = stdinIsTerminal() && !args.flag("password-stdin");

  auto session = sessionNow(api);
  if (!session) return finish(args, fail(kFailed, "unreachable", session.error().message));
  const std::string state = session->value("state", std::string());
  std::string code = args.has("code") ? args.options.at("code") : env(kCodeVar).value_or("");

  // A code for a challenge already pending: answer it, nothing else to do.
  if (!code.empty() && state == "mfa_pending" && !args.has("username"))
    return finish(args, answerChallenge(args, api, code, tty));

  std::vector<std::string> missing;
  std::optional<std::string> username =
      args.has("username") ? std::optional(args.options.at("username")) : env(kUsernameVar);
  if (!username && tty) {
    username = ask("Username: ", false);
    if (username && username->empty()) username.reset();
  }
  if (!username) missing.push_back("the username (--username or FIELDAGENT_USERNAME)");

  std::optional<std::string> password;
  if (args.has("password-file")) {
    auto p = readSecretFile("password-file", args.options.at("password-file"));
    if (!p) return finish(args, fail(kUsage, "usage", p.error().message));
    password = *p;
  } else if (args.flag("password-stdin")) {
    std::string line;
    if (!std::getline(std::cin, line) || trimLineEnd(line).empty())
      return finish(args, fail(kUsage, "usage", "--password-stdin: no password on stdin"));
    password = trimLineEnd(line);
  } else if (auto fromEnv = env(kPasswordVar)) {
    password = fromEnv;
  } else if (tty) {
    password = ask("Password: ", true);
    if (password && password->empty()) password.reset();
  }
  if (!password) missing.push_back("the password (--password-file, --password-stdin or FIELDAGENT_PASSWORD)");

  const std::string method = session->value("mfaMethod", std::string());
  std::optional<std::string> totpSecret;
  if (args.has("totp-secret-file")) {
    auto t = readSecretFile("totp-secret-file", args.options.at("totp-secret-file"));
    if (!t) return finish(args, fail(kUsage, "usage", t.error().message));
    totpSecret = *t;
  } else if (auto fromEnv = env(kTotpVar)) {
    totpSecret = fromEnv;
  } else if (method == "totp" && !args.flag("keep-totp-secret")) {
    if (tty) {
      auto typed = ask("TOTP secret (base32 or otpauth:// URI; empty keeps the one the agent holds): ", true);
      if (!typed)
        missing.push_back("the TOTP secret");
      else if (!typed->empty())
        totpSecret = *typed;
    } else {
      missing.push_back("the TOTP secret (--totp-secret-file, FIELDAGENT_TOTP_SECRET, or --keep-totp-secret)");
    }
  }
  if (!missing.empty()) {
    std::string text = "missing ";
    for (std::size_t i = 0; i < missing.size(); ++i) text += (i ? "; " : "") + missing[i];
    if (!tty) text += " (no terminal to ask on)";
    return finish(args, fail(kUsage, "usage", text));
  }

  // Subscribed before the credentials go in, so the sign-in's outcome cannot be missed.
  auto stream = EventStream::open(api);
  if (!stream) return finish(args, fail(kFailed, "unreachable", stream.error().message));
  json body = {{"username", *username}, {"password", *password}};
  if (totpSecret) body["totpSecret"] = *totpSecret;
  auto posted = api.call("POST", "/agent/credentials", body);
  if (!posted) return finish(args, fail(kFailed, "unreachable", posted.error().message));
  if (posted->status != 202) {
    const std::string message = posted->body.is_object() ? posted->body.value("message", posted->text) : posted->text;
    return finish(args, fail(posted->status < 500 ? kUsage : kFailed, "rejected",
                             "the agent refused the credentials: " + message));
  }
  // Offline, the agent's loop does not try to sign in until coverage returns: say so now
  // rather than after the timeout.
  if (auto status = api.get("/agent/status");
      status && status->contains("connectivity") && !(*status)["connectivity"].value("online", true)) {
    return finish(args, fail(kOffline, "offline",
                             "the device is offline: the credentials are stored and the agent signs in when it is "
                             "back online"));
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  for (;;) {
    auto event = (*stream)->next(deadline);
    if (!event) return finish(args, fail(kFailed, "failed", event.error().message));
    if (!*event) {
      auto now = sessionNow(api);
      auto status = api.get("/agent/status");
      const bool offline =
          status && status->contains("connectivity") && !(*status)["connectivity"].value("online", true);
      if (offline)
        return finish(args, fail(kOffline, "offline",
                                 "the device is offline: the credentials are stored and the agent signs in when "
                                 "it is back online"));
      return finish(args, fail(kFailed, "timeout",
                               "no sign-in outcome within " + std::to_string(timeoutSeconds) + " s (the session is " +
                                   (now ? now->value("state", std::string("?")) : "?") + "; see `fieldagent status`)"));
    }
    if ((*event)->type != "session" || !(*event)->data.is_object()) continue;
    const json& d = (*event)->data;
    const std::string st = d.value("state", std::string());
    const std::string errorName = d.value("error", std::string());
    const auto error = ErrorCode::parse(errorName);
    const std::string message = d.value("message", std::string());
    if (st == "active") {
      auto now = sessionNow(api);
      if (!now) return finish(args, fail(kFailed, "unreachable", now.error().message));
      return finish(args, signedIn(*now));
    }
    if (st == "mfa_pending" || error == ErrorCode("mfa_pending")) {
      auto now = sessionNow(api);
      if (!now) return finish(args, fail(kFailed, "unreachable", now.error().message));
      if (!args.json)
        std::fprintf(stderr, "A %s code was sent to %s.\n", now->value("mfaMethod", std::string("MFA")).c_str(),
                     now->value("deliveredTo", std::string("the technician")).c_str());
      return finish(args, answerChallenge(args, api, code, tty));
    }
    if (error == ErrorCode("invalid_credentials"))
      return finish(args, fail(kRefused, "invalid_credentials", "wrong username or password (" + message + ")"));
    if (error == ErrorCode("invalid_mfa_code"))
      return finish(args, fail(kWrongCode, "invalid_mfa_code",
                               "the TOTP code was refused: check the secret and the device's clock (" + message + ")"));
    if (error == ErrorCode("unreachable"))
      return finish(args, fail(kFailed, "unreachable",
                               "cannot reach upstream to sign in (" + message +
                                   "); the credentials are stored and the agent tries again"));
    if (!errorName.empty()) return finish(args, fail(kRefused, errorName, "sign-in refused: " + message));
  }
}

}  // namespace fieldagent::cli
