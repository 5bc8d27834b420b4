// Prime: N generated work orders (with reference data) from alliance-sim into an empty cache by
// the real sync::Puller, against a minimal program that sends the same GET requests over one
// keep-alive connection and inserts the raw JSON answers as rows into SQLite in one transaction.
// Also the filtered list on the primed cache (status=scheduled, 50 a page), the peak resident
// memory of each process and the bytes each leaves on disk.
//   prime_bench --seed N [--list-queries K]
// The baseline runs as a child process of this one (its own peak memory), on a fresh
// alliance-sim generated from the same seed, replaying the requests the puller made.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "bench_common.hpp"
#include "sync_rig.hpp"

using namespace fieldagent;
using namespace fieldagent::bench;

namespace {

constexpr const char* kListStatus = "scheduled";

void sql(sqlite3* db, const char* text) {
  char* error = nullptr;
  if (sqlite3_exec(db, text, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    throw std::runtime_error(std::string("sqlite: ") + text + ": " + message);
  }
}

// The baseline: replays `requestsFile` (one relative GET path a line) against a fresh sim.
int baseline(const Args& args) {
  testing::SimProcess sim({"--seed", args.get("seed"), "--technicians", "1"});
  const std::string token = sim.login(sim.technicianUser("totp"));
  std::vector<std::string> paths;
  {
    std::ifstream in(args.get("requests"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
  }
  testing::TempDir dir;
  const std::string dbFile = (dir / "baseline.db").string();
  sqlite3* db = nullptr;
  if (sqlite3_open(dbFile.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open " + dbFile);
  sql(db, "PRAGMA journal_mode=WAL");
  sql(db, "CREATE TABLE docs(kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL)");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO docs(kind, id, body) VALUES (?, ?, ?)", -1, &insert, nullptr);
  const std::regex detail("^/work-orders/([^/?]+)$");

  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = selfCpuSeconds();
  KeepAliveClient client(sim.baseUrl());
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + token}};
  sql(db, "BEGIN");
  for (const auto& path : paths) {
    Reply reply = client.call("GET", path, "", auth);
    if (reply.status != 200) {
      throw std::runtime_error("baseline GET " + path + ": " + std::to_string(reply.status) + " " + reply.body);
    }
    std::smatch m;
    const std::string resource = path.substr(0, path.find('?'));
    const bool isWorkOrder = std::regex_match(resource, m, detail);
    const std::string kind = isWorkOrder ? "work_order" : resource;
    const std::string id = isWorkOrder ? m[1].str() : path;
    sqlite3_bind_text(insert, 1, kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 3, reply.body.data(), static_cast<int>(reply.body.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(insert);
  }
  sql(db, "COMMIT");
  const double seconds = secondsSince(start);
  const double cpuSeconds = selfCpuSeconds() - cpuStart;
  sqlite3_finalize(insert);

  // The same filtered list, straight from the raw JSON rows.
  sqlite3_stmt* list = nullptr;
  sqlite3_stmt* count = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT body FROM docs WHERE kind = 'work_order' AND json_extract(body, '$.status') = ? "
                     "ORDER BY id LIMIT 50",
                     -1, &list, nullptr);
  sqlite3_prepare_v2(db,
                     "SELECT count(*) FROM docs WHERE kind = 'work_order' AND json_extract(body, '$.status') = ?",
                     -1, &count, nullptr);
  std::vector<double> listMs;
  long long total = 0;
  const int queries = args.integer("list-queries", 20);
  for (int i = 0; i < queries; ++i) {
    const auto t = std::chrono::steady_clock::now();
    std::vector<std::string> page;
    sqlite3_bind_text(list, 1, kListStatus, -1, SQLITE_STATIC);
    while (sqlite3_step(list) == SQLITE_ROW) {
      page.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
    }
    sqlite3_reset(list);
    sqlite3_bind_text(count, 1, kListStatus, -1, SQLITE_STATIC);
    if (sqlite3_step(count) == SQLITE_ROW) total = sqlite3_column_int64(count, 0);
    sqlite3_reset(count);
    listMs.push_back(secondsSince(t) * 1000);
  }
  sqlite3_finalize(list);
  sqlite3_finalize(count);
  sqlite3_close(db);

  std::printf("%s\n", json{{"seconds", seconds},
                           {"cpuSeconds", cpuSeconds},
                           {"requests", paths.size()},
                           {"peakRssKb", selfPeakRssKb()},
                           {"diskBytes", directoryBytes(dir.path().string())},
                           {"listP50Ms", percentile(listMs, 50)},
                           {"listTotal", total}}
                          .dump()
                          .c_str());
  return 0;
}

// Runs this program again as the baseline and returns the JSON line it printed.
json runBaseline(const std::string& seed, const std::string& requestsFile, int listQueries) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    const std::string queries = std::to_string(listQueries);
    execl("/proc/self/exe", "prime_bench", "--baseline", "--seed", seed.c_str(), "--requests", requestsFile.c_str(),
          "--list-queries", queries.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the baseline failed: " + text);
  auto result = json::parse(text.substr(text.rfind('{')), nullptr, false);
  if (!result.is_object()) throw std::runtime_error("the baseline printed: " + text);
  return result;
}

int ours(const Args& args) {
  const std::string seed = args.get("seed", "200");
  const int listQueries = args.integer("list-queries", 20);
  const std::string label = seed.size() > 3 ? std::to_string(std::stoi(seed) / 1000) + "k" : seed;

  SyncRig rig({"--seed", seed, "--technicians", "1"});
  sync::Puller puller(rig.client, *rig.store, *rig.session, rig.clock);
  // The requests the puller makes, relative to the base URL, for the baseline to replay:
  // written as they are sent, so the list does not count in our peak memory.
  const std::string base = rig.sim.baseUrl();
  const auto requestsFile = rig.dir / "requests.txt";
  std::ofstream outFile(requestsFile);
  std::size_t gets = 0;
  rig.http.observe = [&](const platform::HttpRequest& r) {
    if (r.method != "GET" || r.url.rfind(base, 0) != 0) return;
    outFile << r.url.substr(base.size()) << "\n";
    ++gets;
  };
  const auto start = std::chrono::steady_clock::now();
  const double cpuStart = selfCpuSeconds();
  const auto report = must(puller.pull(), "prime");
  const double seconds = secondsSince(start);
  const double cpuSeconds = selfCpuSeconds() - cpuStart;
  rig.http.observe = nullptr;
  outFile.close();
  if (!outFile) throw std::runtime_error("cannot write " + requestsFile.string());
  const long long peakKb = selfPeakRssKb();
  const long long diskBytes = directoryBytes((rig.dir / "data").string());

  storage::WorkOrderQuery query;
  query.status = kListStatus;
  query.pageSize = 50;
  std::vector<double> listMs;
  std::int64_t total = 0;
  for (int i = 0; i < listQueries; ++i) {
    const auto t = std::chrono::steady_clock::now();
    auto page = must(rig.store->workOrders().listWorkOrders(query), "list");
    total = page.total;
    listMs.push_back(secondsSince(t) * 1000);
  }

  rig.sim.stop();
  const json b = runBaseline(seed, requestsFile.string(), listQueries);
  if (b["requests"].get<std::size_t>() != gets) throw std::runtime_error("the baseline replayed a different count");
  if (b["listTotal"].get<long long>() != total) {
    throw std::runtime_error("the baseline's filtered list has " + b["listTotal"].dump() + " work orders, ours " +
                             std::to_string(total));
  }

  std::ostringstream note;
  note << seed << " generated, " << report.workOrdersStored << " assigned to the technician cached, "
       << report.referenceDocuments << " reference documents, " << gets << " GET requests";
  emit("Prime " + label + ": time", "s", seconds, b["seconds"], "lower", note.str());
  emit("Prime " + label + ": CPU time of the client process (without the sim's)", "s", cpuSeconds, b["cpuSeconds"],
       "lower");
  emit("Prime " + label + ": work orders/s", "1/s", report.workOrdersStored / seconds,
       report.workOrdersStored / b["seconds"].get<double>(), "higher");
  emit("Prime " + label + ": peak RSS of the process", "MiB", static_cast<double>(peakKb) / 1024,
       b["peakRssKb"].get<double>() / 1024, "lower");
  emit("Prime " + label + ": cache on disk", "MiB", static_cast<double>(diskBytes) / (1 << 20),
       b["diskBytes"].get<double>() / (1 << 20), "lower");
  emit("Filtered list at " + label + " (status=scheduled, 50 a page, total " + std::to_string(total) + "): p50",
       "ms", percentile(listMs, 50), b["listP50Ms"], "lower");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Args args(argc, argv);
    return args.has("baseline") ? baseline(args) : ours(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "prime_bench: %s\n", e.what());
    return 1;
  }
}
