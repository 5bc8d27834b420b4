#include "sim_process.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sstream>
#include <stdexcept>

#include "fieldagent/platform/clock.hpp"
#include "totp.hpp"

extern char** environ;

namespace fieldagent::testing {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Guards against a sim that never prints its line (a hang, not a timing assertion).
constexpr int kStartLineTimeoutMs = 120'000;
}  // namespace

nlohmann::json HttpResponse::json() const {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse httpCall(const std::string& method, const std::string& url, const std::string& body,
                      const std::map<std::string, std::string>& headers) {
  HttpResponse out;
  try {
    Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    bool hasContentType = false;
    for (const auto& [k, v] : headers) {
      request.set(k, v);
      hasContentType = hasContentType || lower(k) == "content-type";
    }
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!hasContentType && !body.empty()) request.setContentType("application/json");
    }
    std::ostream& os = session.sendRequest(request);
    os.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& is = session.receiveResponse(response);
    std::string received;
    Poco::StreamCopier::copyToString(is, received);
    if (response.hasContentLength() && method != "HEAD" &&
        static_cast<std::streamsize>(received.size()) != response.getContentLength()) {
      out.transportError = "connection closed after " + std::to_string(received.size()) + " of " +
                           std::to_string(response.getContentLength()) + " body bytes";
      return out;
    }
    out.status = static_cast<int>(response.getStatus());
    for (const auto& [k, v] : response) out.headers[lower(k)] = v;
    out.body = std::move(received);
  } catch (const Poco::Exception& e) {
    out.status = 0;
    out.transportError = e.displayText();
  }
  return out;
}

SimProcess::SimProcess(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argvStrings;
#ifdef ALLIANCE_SIM_EMULATOR
  {
    const std::string emulator = ALLIANCE_SIM_EMULATOR;  // '|'-separated command
    std::size_t start = 0;
    while (start <= emulator.size()) {
      std::size_t end = emulator.find('|', start);
      if (end == std::string::npos) end = emulator.size();
      if (end > start) argvStrings.push_back(emulator.substr(start, end - start));
      start = end + 1;
    }
  }
#endif
  argvStrings.insert(argvStrings.end(), {ALLIANCE_SIM_BINARY, "--port", "0", "--die-with-parent"});
  argvStrings.insert(argvStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argvStrings.size() + 1);
  for (auto& a : argvStrings) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error(std::string("cannot start ") + ALLIANCE_SIM_BINARY);
  }
  stdoutFd_ = fds[0];

  std::string line;
  for (;;) {
    pollfd p{stdoutFd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, kStartLineTimeoutMs);
    if (ready == 0) {
      stop();
      throw std::runtime_error("alliance-sim printed no start line");
    }
    if (ready < 0 && errno == EINTR) continue;
    char c = 0;
    const ssize_t n = ::read(stdoutFd_, &c, 1);
    if (n == 1 && c != '\n') {
      line.push_back(c);
      continue;
    }
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    const int code = stop();
    throw std::runtime_error("alliance-sim exited (" + std::to_string(code) + ") before its start line: " + line);
  }
  startLine_ = nlohmann::json::parse(line, nullptr, false);
  if (startLine_.is_discarded() || !startLine_.contains("baseUrl")) {
    stop();
    throw std::runtime_error("alliance-sim's start line is not the expected JSON: " + line);
  }
  for (const auto& u : startLine_["users"]) {
    SimUser user;
    user.username = u["username"];
    user.password = u["password"];
    user.tenant = u["tenant"];
    user.name = u["name"];
    user.userId = u["userId"];
    user.entitlements = u["entitlements"].get<std::vector<std::string>>();
    if (u["technicianId"].is_string()) user.technicianId = u["technicianId"].get<std::string>();
    user.mfa = u["mfa"];
    if (u["totpSecret"].is_string()) user.totpSecret = u["totpSecret"].get<std::string>();
    users_.push_back(std::move(user));
  }
}

SimProcess::~SimProcess() { stop(); }

int SimProcess::stop(int signal) {
  int code = 0;
  if (pid_ > 0) {
    ::kill(pid_, signal);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  if (stdoutFd_ >= 0) {
    ::close(stdoutFd_);
    stdoutFd_ = -1;
  }
  return code;
}

const SimUser& SimProcess::technicianUser(const std::string& mfa) const {
  for (const SimUser& u : users_) {
    if (u.mfa == mfa && u.technicianId) return u;
  }
  throw std::runtime_error("alliance-sim has no technician demo user with mfa " + mfa);
}

const SimUser& SimProcess::user(const std::string& mfa, const std::string& entitlement) const {
  for (const SimUser& u : users_) {
    const bool entitled = entitlement.empty() ||
                          std::find(u.entitlements.begin(), u.entitlements.end(), entitlement) != u.entitlements.end();
    if (u.mfa == mfa && entitled) return u;
  }
  throw std::runtime_error("alliance-sim has no demo user with mfa " + mfa + " and entitlement " + entitlement);
}

std::string SimProcess::login(const SimUser& user) {
  nlohmann::json body = {{"username", user.username}, {"password", user.password}, {"tenant", user.tenant}};
  const std::map<std::string, std::string> basic = {{"Authorization", "Basic " + integrationToken()}};
  if (user.mfa == "totp") {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(platform::SystemClock().now().time_since_epoch()).count();
    body["mfa"] = {{"type", "totp"}, {"code", totpCodeFromBase32(user.totpSecret, now).value_or("")}};
  } else if (user.mfa == "sms" || user.mfa == "email") {
    body["mfa"] = {{"type", user.mfa}};
    HttpResponse challenge = httpCall("POST", baseUrl() + "/sessions", body.dump(), basic);
    if (challenge.status != 202) throw std::runtime_error("no MFA challenge: " + challenge.body);
    const std::string challengeId = challenge.json()["challengeId"];
    HttpResponse codes = admin("GET", "/mfa-challenges?username=" + user.username);
    const nlohmann::json challenges = codes.json();
    std::string code;
    for (const auto& item : challenges["items"]) {
      if (item["challengeId"] == challengeId) code = item["code"];
    }
    if (code.empty()) throw std::runtime_error("no code for challenge " + challengeId + ": " + codes.body);
    body["mfa"] = {{"type", user.mfa}, {"code", code}, {"challengeId", challengeId}};
  }
  HttpResponse r = httpCall("POST", baseUrl() + "/sessions", body.dump(), basic);
  if (r.status != 200) {
    throw std::runtime_error("login as " + user.username + " failed: " + std::to_string(r.status) + " " + r.body);
  }
  return r.json()["authToken"];
}

HttpResponse SimProcess::call(const std::string& method, const std::string& path, const std::string& token,
                              const nlohmann::json& body, const std::map<std::string, std::string>& headers) {
  auto all = headers;
  if (!token.empty()) all.emplace("Authorization", "Bearer " + token);
  return httpCall(method, baseUrl() + path, body.is_null() ? std::string() : body.dump(), all);
}

HttpResponse SimProcess::admin(const std::string& method, const std::string& path, const nlohmann::json& body) {
  return httpCall(method, adminUrl() + path, body.is_null() ? std::string() : body.dump(),
                  {{"Authorization", "Bearer " + adminToken()}});
}

}  // namespace fieldagent::testing
