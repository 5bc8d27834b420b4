#pragma once
// Shared by the tests that run the real `fieldagent` binary (FIELDAGENT_BINARY): a command run
// to its end, the daemon as a child process, a Server-Sent Events reader, and a config file.
#include <catch2/catch.hpp>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>

#include "sim_process.hpp"
#include "temp_dir.hpp"

namespace fieldagent::testing {

using nlohmann::json;

struct Exit {
  int code = -1;
  std::string stderrText;
};

// Runs the binary with `args` and waits for it (for commands that end by themselves).
inline Exit runToEnd(const std::vector<std::string>& args, const TempDir& dir) {
  const auto errFile = (dir / "stderr.txt").string();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    std::vector<char*> argv{const_cast<char*>(FIELDAGENT_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(FIELDAGENT_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(errFile);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text.str()};
}

// `fieldagent run` as a child: waits for its readiness line, stopped with SIGTERM at the end.
class AgentProcess {
 public:
  AgentProcess(const std::filesystem::path& config, const TempDir& dir) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    const auto errFile = (dir / "agent-stderr.txt").string();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      dup2(out[1], 1);
      int fd = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, 2);
      close(out[0]);
      execl(FIELDAGENT_BINARY, FIELDAGENT_BINARY, "run", "--config", config.c_str(), nullptr);
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    close(out[0]);
    ready_ = json::parse(line, nullptr, false);
    if (!ready_.is_object()) {
      stop();
      std::ifstream in(errFile);
      std::stringstream err;
      err << in.rdbuf();
      FAIL("fieldagent did not start: " << line << " " << err.str());
    }
    url_ = ready_["url"];
    std::ifstream token(ready_["tokenFile"].get<std::string>());
    std::getline(token, token_);
  }
  ~AgentProcess() { stop(); }

  int stop() {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  HttpResponse call(const std::string& method, const std::string& path, const std::string& body = "",
                    std::map<std::string, std::string> headers = {}) {
    if (!headers.count("Authorization")) headers["Authorization"] = "Bearer " + token_;
    if (!body.empty() && !headers.count("Content-Type")) headers["Content-Type"] = "application/json";
    return httpCall(method, url_ + path, body, headers);
  }
  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }

 private:
  pid_t pid_ = -1;
  json ready_;
  std::string url_, token_;
};

// A Server-Sent Events reader on its own connection.
class EventStream {
 public:
  EventStream(const std::string& url, const std::string& token) {
    Poco::URI uri(url);
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    session_->setTimeout(Poco::Timespan(60, 0));  // a failing test ends, a passing one never waits this long
    Poco::Net::HTTPRequest request("GET", "/agent/events", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + token);
    session_->sendRequest(request);
    in_ = &session_->receiveResponse(response_);
  }
  int status() const { return response_.getStatus(); }
  std::string contentType() const { return response_.getContentType(); }

  // Reads events until one of `type` for which `match` holds; returns its data.
  json waitFor(const std::string& type, const std::function<bool(const json&)>& match = {}) {
    std::string line, event;
    while (std::getline(*in_, line)) {
      if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      if (line.rfind("data: ", 0) == 0 && event == type) {
        json data = json::parse(line.substr(6), nullptr, false);
        if (!match || match(data)) return data;
      }
    }
    FAIL("event stream ended before a '" << type << "' event");
    return nullptr;
  }

 private:
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  Poco::Net::HTTPResponse response_;
  std::istream* in_ = nullptr;
};

// The agent's config for `user`'s tenant against `sim`; `extra` keys are merged in (for example
// {"mfaMethod": "sms"}).
inline std::filesystem::path writeConfig(const TempDir& dir, const SimProcess& sim, const SimUser& user,
                                         const json& extra = json::object()) {
  json cfg = {{"upstream", {{"baseUrl", sim.baseUrl()}, {"integrationToken", sim.integrationToken()}}},
              {"tenant", user.tenant},
              {"dataDir", (dir / "data").string()},
              {"localApi", {{"port", 0}}},
              {"laborRates", {{"standard", 90}}},
              {"slaRiskMarginSeconds", 7 * 86400}};
  cfg.merge_patch(extra);
  auto file = dir / "config.json";
  std::ofstream(file) << cfg.dump();
  return file;
}

}  // namespace fieldagent::testing
