// `fieldagent login` and `fieldagent sync` as a technician or a script meets them: the real
// binary against a running daemon and alliance-sim on loopback, with stdin a pipe (a script) or
// a pseudo-terminal (a person).
#include <catch2/catch.hpp>

#include <poll.h>
#include <pty.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <set>

#include "daemon_fixture.hpp"

using namespace fieldagent::testing;
using nlohmann::json;

extern char** environ;

namespace {

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `fieldagent args...` to its end with `input` on its stdin (a pipe: no terminal) and
// `env` added to the environment (FIELDAGENT_* variables of the test's own are left out).
CliRun runCli(const TempDir& dir, const std::vector<std::string>& args, const std::string& input = "",
              const std::map<std::string, std::string>& env = {}) {
  const auto outFile = (dir / "cli-stdout.txt").string();
  const auto errFile = (dir / "cli-stderr.txt").string();
  const auto inFile = (dir / "cli-stdin.txt").string();
  std::ofstream(inFile) << input;
  std::vector<std::string> envText;
  for (char** e = environ; e && *e; ++e)
    if (std::string(*e).rfind("FIELDAGENT_", 0) != 0) envText.emplace_back(*e);
  for (const auto& [k, v] : env) envText.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envText) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv{const_cast<char*>(FIELDAGENT_BINARY)};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int in = ::open(inFile.c_str(), O_RDONLY);
    int out = ::open(outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(FIELDAGENT_BINARY, argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(outFile), slurp(errFile)};
}

// `fieldagent args...` on a pseudo-terminal, as a person at a terminal runs it.
class TerminalRun {
 public:
  explicit TerminalRun(const std::vector<std::string>& args) {
    std::vector<char*> argv{const_cast<char*>(FIELDAGENT_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> envText;
    for (char** e = environ; e && *e; ++e)
      if (std::string(*e).rfind("FIELDAGENT_", 0) != 0) envText.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : envText) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = forkpty(&master_, nullptr, nullptr, nullptr);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execve(FIELDAGENT_BINARY, argv.data(), envp.data());
      _exit(127);
    }
  }
  ~TerminalRun() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
  }

  // Reads what the program writes until `text` shows up (everything read so far is kept).
  bool waitFor(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (screen_.find(text) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const auto n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return screen_.find(text) != std::string::npos;  // the program ended
      screen_.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  void type(const std::string& line) {
    const std::string text = line + "\n";
    REQUIRE(::write(master_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }
  // Reads the rest and waits for the exit code.
  int finish() {
    waitFor("\x04never", std::chrono::seconds(120));
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& screen() const { return screen_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  std::string screen_;
};

std::string secretFile(const TempDir& dir, const std::string& name, const std::string& value) {
  const auto file = dir / name;
  std::ofstream(file) << value << "\n";
  ::chmod(file.c_str(), 0600);
  return file.string();
}

// The code of the newest challenge the simulator sent to `username`.
std::string challengeCode(SimProcess& sim, const std::string& username) {
  auto list = sim.admin("GET", "/mfa-challenges?username=" + username).json();
  REQUIRE(list["items"].size() >= 1);
  return list["items"][0]["code"];
}

std::vector<json> jsonLines(const std::string& text) {
  std::vector<json> lines;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE_FALSE(j.is_discarded());
    lines.push_back(j);
  }
  return lines;
}

// The work orders upstream assigns to `technicianId`, counted as a dispatcher.
std::size_t assignedUpstream(SimProcess& sim, const std::string& technicianId) {
  const std::string token = sim.login(sim.user("totp", "dispatch"));
  std::size_t n = 0;
  for (int page = 1;; ++page) {
    auto r = sim.call("GET", "/work-orders?pageSize=200&page=" + std::to_string(page), token).json();
    for (const auto& wo : r["items"])
      for (const auto& t : wo["assignedTechnicianIds"])
        if (t == technicianId) ++n;
    if (page * 200 >= r["total"].get<int>()) break;
  }
  return n;
}

// A daemon with a TOTP technician signed in through `fieldagent login`.
struct SignedIn {
  SignedIn()
      : sim({"--seed", "20"}),
        user(sim.technicianUser("totp")),
        config(writeConfig(dir, sim, user).string()),
        agent(config, dir) {
    EventStream events(agent.url(), agent.token());
    auto r = runCli(dir, {"login", "--config", config, "--username", user.username, "--password-file",
                          secretFile(dir, "password", user.password), "--totp-secret-file",
                          secretFile(dir, "totp", user.totpSecret)});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    // The sign-in starts the prime in the background: the tests below begin from a full cache.
    events.waitFor("sync", [](const json& d) { return d["phase"] == "pull_done"; });
  }
  SimProcess sim;
  TempDir dir;
  const SimUser& user;
  std::string config;
  AgentProcess agent;
};

}  // namespace

TEST_CASE("fieldagent login signs a TOTP technician in with secrets from files", "[agent][cli]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto config = writeConfig(dir, sim, user).string();
  AgentProcess agent(config, dir);

  auto r = runCli(dir, {"login", "--config", config, "--username", user.username, "--password-file",
                        secretFile(dir, "password", user.password), "--totp-secret-file",
                        secretFile(dir, "totp", user.totpSecret)});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("Signed in as " + user.userId));
  CHECK_THAT(r.out, Catch::Contains("technician " + *user.technicianId));
  CHECK_THAT(r.out, Catch::Contains("workOrders"));
  auto session = agent.call("GET", "/agent/status").json()["session"];
  CHECK(session["state"] == "active");
  CHECK(session["userId"] == user.userId);
}

TEST_CASE("fieldagent login reports a wrong password with its own exit code", "[agent][cli]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto config = writeConfig(dir, sim, user).string();
  AgentProcess agent(config, dir);

  // The script's way: everything from the environment.
  auto r = runCli(dir, {"login", "--config", config}, "",
                  {{"FIELDAGENT_USERNAME", user.username},
                   {"FIELDAGENT_PASSWORD", user.password + "-wrong"},
                   {"FIELDAGENT_TOTP_SECRET", user.totpSecret}});
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK_THAT(r.err, Catch::Contains("wrong username or password"));
  CHECK(agent.call("GET", "/agent/status").json()["session"]["state"] == "failed");

  auto asJson = runCli(dir, {"login", "--json", "--config", config}, "",
                       {{"FIELDAGENT_USERNAME", user.username},
                        {"FIELDAGENT_PASSWORD", "nope"},
                        {"FIELDAGENT_TOTP_SECRET", user.totpSecret}});
  CHECK(asJson.code == 3);
  auto out = json::parse(asJson.out, nullptr, false);
  REQUIRE(out.is_object());
  CHECK(out["outcome"] == "invalid_credentials");
  CHECK(out["exitCode"] == 3);
}

TEST_CASE("fieldagent login answers an SMS challenge with --code and reports a wrong code", "[agent][cli]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("sms");
  const auto config = writeConfig(dir, sim, user, {{"mfaMethod", "sms"}}).string();
  AgentProcess agent(config, dir);

  // No terminal: the password comes on stdin; the code is not known yet, so login stops there.
  auto first =
      runCli(dir, {"login", "--config", config, "--username", user.username, "--password-stdin"}, user.password + "\n");
  INFO(first.out << first.err);
  CHECK(first.code == 6);
  CHECK_THAT(first.err, Catch::Contains("was sent to ***-***-1234"));
  CHECK_THAT(first.err, Catch::Contains("fieldagent login --code CODE"));
  CHECK(agent.call("GET", "/agent/status").json()["session"]["state"] == "mfa_pending");
  const std::string code = challengeCode(sim, user.username);

  const std::string wrongCode = code == "000000" ? "111111" : "000000";
  auto wrong = runCli(dir, {"login", "--config", config, "--code", wrongCode});
  INFO(wrong.out << wrong.err);
  CHECK(wrong.code == 4);
  CHECK_THAT(wrong.err, Catch::Contains("wrong code"));
  CHECK(agent.call("GET", "/agent/status").json()["session"]["state"] == "mfa_pending");

  auto right = runCli(dir, {"login", "--config", config, "--code", code});
  INFO(right.out << right.err);
  CHECK(right.code == 0);
  CHECK_THAT(right.out, Catch::Contains("Signed in as " + user.userId));
  CHECK(agent.call("GET", "/agent/status").json()["session"]["state"] == "active");
}

TEST_CASE("fieldagent login without a terminal names what is missing", "[agent][cli]") {
  SimProcess sim({"--seed", "5"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto config = writeConfig(dir, sim, user).string();
  AgentProcess agent(config, dir);

  auto noPassword = runCli(dir, {"login", "--config", config, "--username", user.username});
  CHECK(noPassword.code == 2);
  CHECK_THAT(noPassword.err, Catch::Contains("missing the password"));
  CHECK_THAT(noPassword.err, Catch::Contains("TOTP secret"));
  CHECK_THAT(noPassword.err, Catch::Contains("no terminal to ask on"));
  CHECK_THAT(noPassword.err, Catch::Contains("--password-file"));

  auto nothing = runCli(dir, {"login", "--config", config});
  CHECK(nothing.code == 2);
  CHECK_THAT(nothing.err, Catch::Contains("the username"));

  auto inArgv = runCli(dir, {"login", "--config", config, "--username", user.username, "--password", "x"});
  CHECK(inArgv.code == 2);
  CHECK_THAT(inArgv.err, Catch::Contains("--password is not accepted"));

  // Nothing reached the agent: it holds no credentials and tried no sign-in.
  CHECK(agent.call("GET", "/agent/status").json()["session"]["state"] == "signed_out");
}

TEST_CASE("fieldagent login on a terminal asks for the password without echoing it", "[agent][cli]") {
  SimProcess sim({"--seed", "5"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto config = writeConfig(dir, sim, user).string();
  AgentProcess agent(config, dir);

  TerminalRun term({"login", "--config", config});
  REQUIRE(term.waitFor("Username: "));
  term.type(user.username);
  REQUIRE(term.waitFor("Password: "));
  term.type(user.password);
  REQUIRE(term.waitFor("TOTP secret"));
  term.type(user.totpSecret);
  CHECK(term.finish() == 0);
  INFO(term.screen());
  CHECK_THAT(term.screen(), Catch::Contains(user.username));  // echoed: not a secret
  CHECK_THAT(term.screen(), !Catch::Contains(user.password));
  CHECK_THAT(term.screen(), !Catch::Contains(user.totpSecret));
  CHECK_THAT(term.screen(), Catch::Contains("Signed in as " + user.userId));
}

TEST_CASE("fieldagent sync --json follows the round and its summary matches the agent", "[agent][cli]") {
  SignedIn s;
  auto scheduled = s.agent.call("GET", "/work-orders?status=scheduled").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  REQUIRE(s.agent
              .call("POST", "/work-orders/" + wo + "/status",
                    json{{"status", "en_route"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump())
              .status == 202);

  auto r = runCli(s.dir, {"sync", "--json", "--config", s.config});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  auto lines = jsonLines(r.out);
  REQUIRE(lines.size() >= 3);
  const json summary = lines.back();
  CHECK(summary["type"] == "summary");
  CHECK(summary["outcome"] == "ok");
  CHECK(summary["exitCode"] == 0);
  std::set<std::string> phases;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    CHECK(lines[i]["type"] == "event");
    if (lines[i]["event"] == "sync") phases.insert(lines[i]["data"]["phase"].get<std::string>());
  }
  CHECK(phases.count("pull_started") == 1);
  CHECK(phases.count("pull_done") == 1);
  CHECK(phases.count("progress") == 1);

  // The summary says what the agent says, and the agent holds what upstream assigns.
  auto status = s.agent.call("GET", "/agent/status").json();
  CHECK(summary["outbox"] == status["outbox"]);
  CHECK(summary["outbox"]["pending"] == 0);
  CHECK(summary["openConflicts"] == status["openConflicts"]);
  CHECK(summary["round"]["served"].get<int>() >= summary["request"].get<int>());
  auto cached = s.agent.call("GET", "/work-orders?pageSize=200").json();
  CHECK(cached["total"].get<std::size_t>() == assignedUpstream(s.sim, *s.user.technicianId));
  auto op = s.agent.call("GET", "/agent/outbox?workOrderId=" + wo).json();
  REQUIRE(op["items"].size() == 1);
  CHECK(op["items"][0]["state"] == "done");
}

TEST_CASE("fieldagent sync sends what was backing off and reports operations and upload bytes", "[agent][cli]") {
  SignedIn s;
  EventStream events(s.agent.url(), s.agent.token());
  auto scheduled = s.agent.call("GET", "/work-orders?status=scheduled").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  // Upstream answers 503 with a Retry-After of an hour: the agent's own push backs off.
  REQUIRE(s.sim
              .admin("PUT", "/faults",
                     {{"error503Share", 1.0}, {"retryAfterSeconds", 3600}, {"pathContains", "/work-orders/"}})
              .status == 200);
  REQUIRE(s.agent
              .call("POST", "/work-orders/" + wo + "/status",
                    json{{"status", "en_route"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump())
              .status == 202);
  const std::size_t photoBytes = 300'000;
  REQUIRE(s.agent
              .call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=meter.jpg",
                    std::string(photoBytes, 'p'), {{"Content-Type", "image/jpeg"}})
              .status == 202);
  events.waitFor("sync", [](const json& d) { return d["phase"] == "push_done" && d["retried"].get<int>() >= 1; });
  REQUIRE(s.sim.admin("DELETE", "/faults").status == 200);

  auto r = runCli(s.dir, {"sync", "--json", "--config", s.config});
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  auto lines = jsonLines(r.out);
  REQUIRE_FALSE(lines.empty());
  json lastPush = nullptr;
  json pushStarted = nullptr;
  for (const auto& l : lines) {
    if (l["type"] != "event" || l["event"] != "sync") continue;
    if (l["data"]["phase"] == "push_started") pushStarted = l["data"];
    if (l["data"]["phase"] == "progress" && l["data"]["step"] == "push") lastPush = l["data"];
  }
  REQUIRE(pushStarted.is_object());
  CHECK(pushStarted["pending"] == 2);  // the status move and the photo
  REQUIRE(lastPush.is_object());
  CHECK(lastPush["operations"] == 2);
  CHECK(lastPush["uploadBytesTotal"] == photoBytes);
  CHECK(lastPush["uploadedBytes"] == photoBytes);
  const json summary = lines.back();
  CHECK(summary["push"]["done"] == 2);
  CHECK(summary["outbox"]["pending"] == 0);
  CHECK(summary["outbox"] == s.agent.call("GET", "/agent/status").json()["outbox"]);
}

TEST_CASE("fieldagent sync prints plain lines and exits 3 when a conflict is left", "[agent][cli]") {
  SignedIn s;
  auto scheduled = s.agent.call("GET", "/work-orders?status=scheduled").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  const std::string dispatcher = s.sim.login(s.sim.user("totp", "dispatch"));
  REQUIRE(s.sim.call("PATCH", "/work-orders/" + wo, dispatcher, json{{"status", "cancelled"}}).status == 200);
  REQUIRE(s.agent
              .call("POST", "/work-orders/" + wo + "/status",
                    json{{"status", "en_route"}, {"occurredAt", "2026-01-01T08:00:00Z"}}.dump())
              .status == 202);

  auto r = runCli(s.dir, {"sync", "--config", s.config});
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK_THAT(r.out, Catch::Contains("pull: started"));
  CHECK_THAT(r.out, Catch::Contains("pull: done"));
  // The write woke the agent, which may have pushed it (and met the conflict) before this
  // round; the summary counts what is open either way.
  CHECK_THAT(r.out, Catch::Contains("1 open conflicts need the technician"));
  CHECK(r.out.find('\r') == std::string::npos);  // no progress bar when stdout is no terminal
}

TEST_CASE("fieldagent sync on a terminal draws a progress bar", "[agent][cli]") {
  SignedIn s;
  TerminalRun term({"sync", "--config", s.config});
  CHECK(term.finish() == 0);
  INFO(term.screen());
  CHECK_THAT(term.screen(), Catch::Contains("\r\x1b[Kpull ["));
  CHECK_THAT(term.screen(), Catch::Contains("pages"));
  CHECK_THAT(term.screen(), Catch::Contains("sync: synced"));
}

TEST_CASE("fieldagent sync says when nobody is signed in", "[agent][cli]") {
  SimProcess sim({"--seed", "5"});
  TempDir dir;
  const auto config = writeConfig(dir, sim, sim.technicianUser("totp")).string();
  AgentProcess agent(config, dir);
  auto r = runCli(dir, {"sync", "--config", config});
  CHECK(r.code == 6);
  CHECK_THAT(r.err, Catch::Contains("not signed in"));
  CHECK_THAT(r.err, Catch::Contains("fieldagent login"));
  auto asJson = runCli(dir, {"sync", "--json", "--config", config});
  CHECK(asJson.code == 6);
  REQUIRE_FALSE(asJson.out.empty());
  CHECK(jsonLines(asJson.out).back()["outcome"] == "not_signed_in");
}
