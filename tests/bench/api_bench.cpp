// The local API of the real `fieldagent run` (primed from alliance-sim with --seed N, one
// technician) against bare_server (a bare Poco HTTPServer answering fixed bodies of the same
// sizes):
//  - GET /work-orders?pageSize=50 and POST /work-orders/{id}/status (a durable local write and
//    its outbox operation; the agent's sync loop pushes them upstream meanwhile, as on a device),
//    latency p50/p99 and throughput at 1 and 8 concurrent keep-alive clients;
//  - start-up: exec to the first page served, with the cache already primed;
//  - resident memory once idle after that start-up.
//   api_bench [--seed N] [--requests R] [--startups K]
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "bench_common.hpp"
#include "sim_process.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using namespace fieldagent::bench;
using namespace std::chrono_literals;

namespace {

// A server child started by exec that prints one JSON line when it serves.
class Child {
 public:
  Child(const std::vector<std::string>& argvStrings, const std::string& stderrFile) {
    started_ = std::chrono::steady_clock::now();
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(out[1], 1);
      const int fd = ::open(stderrFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, 2);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      for (const auto& a : argvStrings) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line += ch;
    close(out[0]);
    ready_ = json::parse(line, nullptr, false);
    if (!ready_.is_object() || !ready_.contains("url")) {
      stop();
      throw std::runtime_error(argvStrings[0] + " did not start (see " + stderrFile + "): " + line);
    }
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }
  std::string url() const { return ready_["url"]; }
  const json& ready() const { return ready_; }
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  pid_t pid_ = -1;
  json ready_;
  std::chrono::steady_clock::time_point started_;
};

struct Load {
  std::vector<double> latencyMs;
  double seconds = 0;
  double throughput() const { return static_cast<double>(latencyMs.size()) / seconds; }
};

struct Call {
  std::string method;
  std::string path;
  std::string body;
};

// `total` requests split over `clients` threads, each on its own keep-alive connection.
Load load(const std::string& url, const std::string& token, int clients, int total,
          const std::function<Call(int client, int i)>& make) {
  std::vector<std::vector<double>> perClient(static_cast<std::size_t>(clients));
  std::vector<std::string> errors(static_cast<std::size_t>(clients));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = perClient[static_cast<std::size_t>(c)];
      try {
        KeepAliveClient client(url);
        std::map<std::string, std::string> headers;
        if (!token.empty()) headers["Authorization"] = "Bearer " + token;
        ++ready;
        while (!go) std::this_thread::yield();
        for (int i = c; i < total; i += clients) {
          const Call call = make(c, i);
          const auto t = std::chrono::steady_clock::now();
          Reply reply = client.call(call.method, call.path, call.body, headers);
          mine.push_back(secondsSince(t) * 1000);
          if (reply.status / 100 != 2) {
            throw std::runtime_error(call.method + " " + call.path + ": " + std::to_string(reply.status) + " " +
                                     reply.body);
          }
        }
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(c)] = e.what();
        ++ready;
      }
    });
  }
  while (ready < clients) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  go = true;
  for (auto& t : threads) t.join();
  Load out;
  out.seconds = secondsSince(start);
  for (const auto& e : errors) {
    if (!e.empty()) throw std::runtime_error(e);
  }
  for (const auto& l : perClient) out.latencyMs.insert(out.latencyMs.end(), l.begin(), l.end());
  return out;
}

Reply once(const std::string& url, const std::string& token, const std::string& method, const std::string& path,
           const std::string& body = "") {
  KeepAliveClient client(url);
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return client.call(method, path, body, headers);
}

// Polls the agent's status until `done` holds for it (a deadline guards against a hang).
json waitForStatus(const std::string& url, const std::string& token, const std::function<bool(const json&)>& done,
                   const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + 30min;
  for (;;) {
    Reply r = once(url, token, "GET", "/agent/status");
    json status = json::parse(r.body, nullptr, false);
    if (r.status == 200 && done(status)) return status;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("timed out waiting for " + what);
    std::this_thread::sleep_for(100ms);
  }
}

std::string readToken(const Child& agent) {
  std::ifstream in(agent.ready()["tokenFile"].get<std::string>());
  std::string token;
  std::getline(in, token);
  return token;
}

// exec → first page served, for a server that needs `token`.
double startupSeconds(Child& child, const std::string& token, const std::string& path) {
  Reply r = once(child.url(), token, "GET", path);
  if (r.status != 200) throw std::runtime_error("first GET " + path + ": " + std::to_string(r.status) + " " + r.body);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - child.started()).count();
}

void emitLoad(const std::string& what, int clients, const Load& ours, const Load& base) {
  const std::string prefix = what + ", " + std::to_string(clients) + (clients == 1 ? " client" : " clients");
  emit(prefix + ": p50", "ms", percentile(ours.latencyMs, 50), percentile(base.latencyMs, 50));
  emit(prefix + ": p99", "ms", percentile(ours.latencyMs, 99), percentile(base.latencyMs, 99));
  emit(prefix + ": throughput", "req/s", ours.throughput(), base.throughput(), "higher");
}

int run(const Args& args) {
  const std::string seed = args.get("seed", "200");
  const int requests = args.integer("requests", 200);
  const int startups = args.integer("startups", 3);
  const std::string label = seed.size() > 3 ? std::to_string(std::stoi(seed) / 1000) + "k" : seed;

  testing::SimProcess sim({"--seed", seed, "--technicians", "1"});
  testing::TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto config = dir / "config.json";
  std::ofstream(config) << json{{"upstream", {{"baseUrl", sim.baseUrl()}, {"integrationToken", sim.integrationToken()}}},
                                {"tenant", user.tenant},
                                {"dataDir", (dir / "data").string()},
                                {"localApi", {{"port", 0}}},
                                {"log", {{"level", "warning"}}}}
                               .dump();
  const std::vector<std::string> agentArgv = {FIELDAGENT_BINARY, "run", "--config", config.string()};
  const std::string agentErr = (dir / "agent-stderr.txt").string();

  auto agent = std::make_unique<Child>(agentArgv, agentErr);
  const std::string token = readToken(*agent);
  {
    Reply r = once(agent->url(), token, "POST", "/agent/credentials",
                   json{{"username", user.username}, {"password", user.password}, {"totpSecret", user.totpSecret}}
                       .dump());
    if (r.status != 202) throw std::runtime_error("credentials: " + std::to_string(r.status) + " " + r.body);
  }
  waitForStatus(
      agent->url(), token, [](const json& s) { return s["lastPull"]["at"].is_string(); }, "the prime");
  const std::string listPath = "/work-orders?pageSize=50";
  Reply firstPage = once(agent->url(), token, "GET", listPath);
  if (firstPage.status != 200) throw std::runtime_error("GET " + listPath + ": " + firstPage.body);
  const auto cached = json::parse(firstPage.body)["total"].get<long long>();

  // Work orders to move to the status they have (a self-move the contract allows): durable
  // writes that never run out.
  std::vector<std::string> scheduled;
  for (int page = 1; scheduled.size() < 400; ++page) {
    Reply r = once(agent->url(), token, "GET", "/work-orders?status=scheduled&pageSize=200&page=" + std::to_string(page));
    auto items = json::parse(r.body)["items"];
    if (items.empty()) break;
    for (const auto& wo : items) scheduled.push_back(wo["workOrderId"]);
  }
  if (scheduled.empty()) throw std::runtime_error("no scheduled work orders cached");
  const std::string statusBody = json{{"status", "scheduled"}}.dump();
  auto statusCall = [&](int, int i) {
    return Call{"POST", "/work-orders/" + scheduled[static_cast<std::size_t>(i) % scheduled.size()] + "/status",
                statusBody};
  };
  Reply firstPost = once(agent->url(), token, "POST", statusCall(0, 0).path, statusBody);
  if (firstPost.status / 100 != 2) throw std::runtime_error("POST status: " + firstPost.body);

  auto listCall = [&](int, int) { return Call{"GET", listPath, ""}; };
  std::map<int, Load> oursGet, oursPost;
  // Reads first: the writes leave the sync loop pushing their operations upstream for a while.
  for (int clients : {1, 8}) oursGet[clients] = load(agent->url(), token, clients, requests, listCall);
  for (int clients : {1, 8}) oursPost[clients] = load(agent->url(), token, clients, requests, statusCall);

  // Start-up with the cache primed, and memory once idle.
  std::vector<double> agentStartups;
  long long idleKb = 0;
  for (int i = 0; i < startups; ++i) {
    agent.reset();
    agent = std::make_unique<Child>(agentArgv, agentErr);
    agentStartups.push_back(startupSeconds(*agent, token, listPath));
  }
  waitForStatus(
      agent->url(), token,
      [](const json& s) {
        return s["lastPull"]["at"].is_string() && s["outbox"].value("pending", 0) == 0 &&
               s["outbox"].value("in_flight", 0) == 0;
      },
      "the agent to go idle");
  std::this_thread::sleep_for(2s);  // a measurement interval: let start-up buffers settle
  idleKb = rssKb(agent->pid());
  const long long agentPeakKb = procStatusKb(std::to_string(agent->pid()), "VmHWM");
  agent.reset();

  // The baseline.
  const std::vector<std::string> bareArgv = {BARE_SERVER_BINARY, "--get-bytes", std::to_string(firstPage.body.size()),
                                             "--post-bytes", std::to_string(firstPost.body.size())};
  const std::string bareErr = (dir / "bare-stderr.txt").string();
  std::vector<double> bareStartups;
  long long bareIdleKb = 0;
  std::map<int, Load> bareGet, barePost;
  for (int i = 0; i < startups; ++i) {
    Child bare(bareArgv, bareErr);
    bareStartups.push_back(startupSeconds(bare, "", listPath));
    if (i + 1 == startups) {
      std::this_thread::sleep_for(2s);
      bareIdleKb = rssKb(bare.pid());
      for (int clients : {1, 8}) bareGet[clients] = load(bare.url(), "", clients, requests, listCall);
      for (int clients : {1, 8}) barePost[clients] = load(bare.url(), "", clients, requests, statusCall);
    }
  }

  const std::string cachedText = std::to_string(cached) + " cached";
  for (int clients : {1, 8}) {
    emitLoad("Local API GET /work-orders?pageSize=50 (" + cachedText + ", " +
                 std::to_string(firstPage.body.size()) + " B)",
             clients, oursGet[clients], bareGet[clients]);
  }
  for (int clients : {1, 8}) {
    emitLoad("Local API POST /work-orders/{id}/status (durable)", clients, oursPost[clients], barePost[clients]);
  }
  emit("Start-up to the first page served (" + cachedText + "), median of " + std::to_string(startups), "s",
       percentile(agentStartups, 50), percentile(bareStartups, 50));
  emit("Resident memory idle after start-up (" + cachedText + ")", "MiB", static_cast<double>(idleKb) / 1024,
       static_cast<double>(bareIdleKb) / 1024, "lower",
       "agent's peak since its start-up: " + std::to_string(agentPeakKb / 1024) + " MiB");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    return run(Args(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "api_bench: %s\n", e.what());
    return 1;
  }
}
