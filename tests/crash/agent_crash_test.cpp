// The agent's sync components (crash_agent_driver) SIGKILLed at random points of capture, pull
// (prime and delta), push and upload, hundreds of times, against a real alliance-sim. After
// every kill: the database passes integrity_check, the store and the secrets open, and every
// capture the driver had reported as recorded is there. At the end one clean run drains the
// outbox and upstream holds each effect exactly once.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/upstream_client.hpp"
#include "sim_process.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using fieldagent::testing::SimProcess;
using fieldagent::testing::TempDir;
using nlohmann::json;

namespace {

// One capture the driver reported as recorded.
struct Ack {
  std::string kind;  // note, consumption, photo
  std::int64_t operationId = 0;
  std::string workOrderId;
  std::string tag;
  std::string attachmentId, sha256;  // photos
  bool verified = false;             // photo bytes read back once already
};

struct Run {
  bool killed = false;
  bool finished = false;     // printed DONE and exited 0
  std::string killedIn;      // class of the last request line before the kill, or the mode
  std::vector<Ack> acks;
  int lines = 0;
};

class Rig {
 public:
  Rig() : sim({"--seed", "300", "--technicians", "3"}), dice(20261128) {
    // A SIGKILL loses no page cache, so the data folder may live in memory: the kills are
    // the same, the run is not held up by thousands of fsyncs on a busy disk.
    if (std::filesystem::is_directory("/dev/shm") && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    dir = std::make_unique<TempDir>();
    data = *dir / "data";
    keyFile = *dir / "keys" / "data.key";
    stderrFile = *dir / "driver-stderr.txt";
    const auto& tech = technician();
    platform::FileKeyStore keys(keyFile, platform::systemEntropy());
    platform::FakeClock clock;
    REQUIRE(storage::Store::open({data}, clock, platform::systemEntropy(), keys).ok());
    auto secrets = storage::SecretStore::open(data / "secrets.bin", keys, platform::systemEntropy()).value();
    REQUIRE(secrets->put(storage::secret::kUsername, tech.username).ok());
    REQUIRE(secrets->put(storage::secret::kPassword, tech.password).ok());
    REQUIRE(secrets->put(storage::secret::kTotpSecret, tech.totpSecret).ok());
  }

  const testing::SimUser& technician() const {
    for (const auto& u : sim.users())
      if (u.technicianId && u.mfa == "totp") return u;
    throw std::runtime_error("no TOTP technician");
  }

  // Runs the driver in `mode`; kills it after `killAfter` output lines (never, when negative),
  // or, when `killAfter` is 0, after a random moment of its start-up.
  Run run(const std::string& mode, int killAfter) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string roundText = std::to_string(round++);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      FILE* err = std::fopen(stderrFile.c_str(), "a");
      if (err != nullptr) ::dup2(::fileno(err), 2);
      const std::vector<std::string> args = {CRASH_AGENT_DRIVER, mode, data.string(), keyFile.string(), sim.baseUrl(),
                                             sim.integrationToken(), technician().tenant, roundText};
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(CRASH_AGENT_DRIVER, argv.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    FILE* out = ::fdopen(fds[0], "r");
    REQUIRE(out != nullptr);
    Run r;
    r.killedIn = mode;
    // A little random lag between seeing a line and the kill, so the kill lands anywhere in
    // what follows it (the next statement, the request on the wire, the answer's bookkeeping).
    const auto jitter = [&] { ::usleep(std::uniform_int_distribution<useconds_t>(0, 3000)(dice)); };
    if (killAfter == 0) {
      ::usleep(std::uniform_int_distribution<useconds_t>(0, 120'000)(dice));
      ::kill(pid, SIGKILL);
      r.killed = true;
    }
    char line[512];
    while (std::fgets(line, sizeof line, out) != nullptr) {
      take(line, r);
      if (!r.killed && killAfter > 0 && r.lines == killAfter && !r.finished) {
        jitter();
        ::kill(pid, SIGKILL);
        r.killed = true;
      }
    }
    std::fclose(out);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (r.killed && WIFSIGNALED(status)) return r;
    if (r.killed && WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.finished) {
      r.killed = false;  // it had finished before the signal came
      return r;
    }
    INFO("driver " << mode << " status " << status << ", stderr: " << tail());
    REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.finished));
    return r;
  }

  std::string tail() {
    std::ifstream in(stderrFile);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  void take(const std::string& line, Run& r) {
    ++r.lines;
    std::istringstream in(line);
    std::string head;
    in >> head;
    if (head == "S" || head == "R") {
      if (r.killed) return;  // read after the kill: says nothing about where it landed
      in >> r.killedIn;
      if (head == "S") ++requestsSeen[r.killedIn];
    } else if (head == "DONE") {
      r.finished = true;
    } else if (head == "A") {
      Ack a;
      in >> a.kind >> a.operationId >> a.workOrderId >> a.tag;
      if (a.kind == "photo") in >> a.attachmentId >> a.sha256;
      r.acks.push_back(a);
    }
  }

  // What must hold after every kill: a whole database, a store and secrets that open, every
  // acknowledged capture in place (photos readable, bytes as captured).
  void check(bool readAllPhotos = false) {
    {
      sqlite3* db = nullptr;
      REQUIRE(sqlite3_open_v2((data / "fieldagent.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
      sqlite3_stmt* stmt = nullptr;
      REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK);
      REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
      const std::string verdict = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      sqlite3_finalize(stmt);
      sqlite3_close(db);
      REQUIRE(verdict == "ok");
      ++integrityChecks;
    }
    platform::FakeClock clock;
    platform::FileKeyStore keys(keyFile, platform::systemEntropy());
    auto store = storage::Store::open({data}, clock, platform::systemEntropy(), keys);
    INFO((store ? std::string() : store.error().message));
    REQUIRE(store.ok());
    REQUIRE(storage::SecretStore::open(data / "secrets.bin", keys, platform::systemEntropy()).ok());
    for (auto& a : acked) {
      INFO(a.kind << " " << a.tag << " operation " << a.operationId);
      auto op = (*store)->outbox().operation(a.operationId);
      REQUIRE(op.ok());
      CHECK(op->workOrderId == a.workOrderId);
      if (a.kind == "photo") {
        CHECK(op->kind == sync::op::kAttachmentUpload);
        auto rec = (*store)->attachments().attachment(a.attachmentId);
        REQUIRE(rec.ok());
        CHECK(rec->sha256 == a.sha256);
        if (!a.verified || readAllPhotos) {
          auto reader = (*store)->attachments().openAttachment(a.attachmentId);
          REQUIRE(reader.ok());
          platform::Sha256 hash;
          for (std::uint64_t at = 0; at < reader->size(); at += 256 * 1024) {
            auto piece = reader->read(at, 256 * 1024);
            REQUIRE(piece.ok());
            hash.update(*piece);
          }
          CHECK(platform::hexEncode(hash.finish()) == a.sha256);
          a.verified = true;
        } else {
          CHECK(std::filesystem::exists((*store)->attachmentsDir() / (a.attachmentId + ".att")));
        }
      } else {
        CHECK(op->kind == a.kind);
        CHECK(op->payload.dump().find(a.tag) != std::string::npos);
      }
    }
  }

  // Kills the driver in `mode` `kills` times at 1..maxLines lines (a tenth of them during
  // start-up), checking after each; returns the kills by where they landed.
  std::map<std::string, int> killLoop(const std::string& mode, int kills, int maxLines,
                                      const std::function<void()>& beforeEach = {}) {
    std::map<std::string, int> where;
    int done = 0;
    while (done < kills) {
      if (beforeEach) beforeEach();
      const int at = std::uniform_int_distribution<int>(0, 9)(dice) == 0
                         ? 0
                         : std::uniform_int_distribution<int>(1, maxLines)(dice);
      Run r = run(mode, at);
      acked.insert(acked.end(), r.acks.begin(), r.acks.end());
      if (!r.killed) {
        ++finishedRuns[mode];
        if (mode == "photos") continue;
        if (mode == "push") return where;  // the queue is empty: more captures are needed
        continue;
      }
      ++done;
      ++where[r.killedIn == "photos" ? "capture" : r.killedIn];
      check();
    }
    return where;
  }

  SimProcess sim;
  std::unique_ptr<TempDir> dir;
  std::filesystem::path data, keyFile, stderrFile;
  std::mt19937 dice;
  long round = 0;
  std::vector<Ack> acked;
  std::map<std::string, int> finishedRuns;
  std::map<std::string, int> requestsSeen;
  int integrityChecks = 0;
};

}  // namespace

TEST_CASE("SIGKILL during capture and pull and push and upload: acknowledged captures survive and every effect lands once",
          "[crash][agent]") {
  Rig rig;
  std::map<std::string, int> kills;
  auto add = [&](const std::map<std::string, int>& more) {
    for (const auto& [k, n] : more) kills[k] += n;
  };

  // 1. The prime, killed again and again before it completes; then once to the end.
  add(rig.killLoop("pull", 50, 40));
  Run prime = rig.run("pull", -1);
  REQUIRE(prime.finished);

  // The technician sets off for a dozen work orders (pushed later, with everything else).
  {
    platform::FakeClock clock(platform::SystemClock().now());
    platform::FileKeyStore keys(rig.keyFile, platform::systemEntropy());
    auto store = storage::Store::open({rig.data}, clock, platform::systemEntropy(), keys).value();
    auto secrets = storage::SecretStore::open(rig.data / "secrets.bin", keys, platform::systemEntropy()).value();
    platform::PocoHttpExchange http;
    sync::UpstreamClient client({rig.sim.baseUrl(), rig.sim.integrationToken()}, http, clock);
    sync::SessionManager session(client, *secrets, clock, {rig.technician().tenant, "totp"});
    REQUIRE(session.restore() == sync::SessionState::active);
    sync::Capture capture(*store, session, clock);
    int moved = 0;
    for (const auto& id : store->workOrders().workOrderIds().value()) {
      if (store->workOrders().workOrder(id)->doc.value("status", "") != "scheduled") continue;
      REQUIRE(capture.moveStatus(id, {{"status", "en_route"}}).ok());
      if (++moved == 12) break;
    }
    REQUIRE(moved >= 4);
  }

  // 2. Capture, offline, killed after 0..6 acknowledged captures.
  add(rig.killLoop("capture", 120, 6));

  // 3. Delta pulls over a cache full of unsent work: dispatch keeps changing priorities, so
  // every pull has work orders to store under the technician's local changes.
  const std::string dispatcher = rig.sim.login(rig.sim.user("totp", "dispatch"));
  std::vector<std::string> assigned;
  for (const auto& a : rig.acked) assigned.push_back(a.workOrderId);
  std::sort(assigned.begin(), assigned.end());
  assigned.erase(std::unique(assigned.begin(), assigned.end()), assigned.end());
  REQUIRE_FALSE(assigned.empty());
  int patches = 0;
  const std::vector<std::string> priorities = {"low", "medium", "high", "urgent"};
  add(rig.killLoop("pull", 50, 10, [&] {
    const std::string& id = assigned[static_cast<std::size_t>(patches) % assigned.size()];
    auto r = rig.sim.call("PATCH", "/work-orders/" + id, dispatcher,
                          {{"priority", priorities[static_cast<std::size_t>(patches) % priorities.size()]}});
    REQUIRE(r.status == 200);
    ++patches;
  }));
  REQUIRE(rig.run("pull", -1).finished);
  rig.check();

  // Upstream's counters before anything is pushed (the seed has attachments of its own).
  std::map<std::string, json> baseline;
  {
    platform::FakeClock clock;
    platform::FileKeyStore keys(rig.keyFile, platform::systemEntropy());
    auto store = storage::Store::open({rig.data}, clock, platform::systemEntropy(), keys).value();
    for (const auto& id : store->workOrders().workOrderIds().value())
      baseline[id] = rig.sim.admin("GET", "/effects?workOrderId=" + id).json();
  }

  // 4. Push: the queue of statuses, notes, labour and photos, killed after 1..8 request lines,
  // then drained once.
  add(rig.killLoop("push", 100, 8));
  REQUIRE(rig.run("push", -1).finished);
  rig.check();

  // 5. Upload: photos only are captured (those runs killed too), then the pusher is killed
  // while it sends them: slot requests, tus HEAD and PATCH chunks, URL renewals, completes.
  for (int batch = 0; batch < 10 && kills["upload"] < 100; ++batch) {
    add(rig.killLoop("photos", 2, 8));
    add(rig.killLoop("push", 15, 8));
  }
  CHECK(kills["push"] >= 100);
  CHECK(kills["upload"] >= 100);

  // 5. One clean run drains everything.
  Run last = rig.run("push", -1);
  REQUIRE(last.finished);
  rig.check(true);

  platform::FakeClock clock;
  platform::FileKeyStore keys(rig.keyFile, platform::systemEntropy());
  auto store = storage::Store::open({rig.data}, clock, platform::systemEntropy(), keys).value();
  auto counts = store->outbox().outboxCounts().value();
  CHECK(counts.byState[storage::OpState::pending] == 0);
  CHECK(counts.byState[storage::OpState::in_flight] == 0);
  CHECK(counts.byState[storage::OpState::rejected] == 0);
  CHECK(counts.byState[storage::OpState::conflict] == 0);
  for (const auto& c : store->conflicts().listConflicts(true).value()) {
    auto op = store->outbox().operation(c.operationId).value();
    WARN("open conflict: operation " << op.id << " " << op.kind << " on " << c.workOrderId << " field " << c.field
                                     << ": " << c.message << " attempts " << op.attempts << " payload "
                                     << op.payload.dump().substr(0, 200));
  }

  // Upstream: per work order, one effect for each operation the store recorded (acknowledged
  // or committed just before a kill), no more, no fewer.
  std::set<std::string> touched;
  for (const auto& a : rig.acked) touched.insert(a.workOrderId);
  int consumptions = 0, photos = 0, notes = 0;
  for (const auto& id : touched) {
    CAPTURE(id);
    storage::OutboxFilter f;
    f.workOrderId = id;
    f.limit = 1000;
    int localConsumptions = 0, localPhotos = 0;
    std::multiset<std::string> localNotes;
    for (const auto& op : store->outbox().listOperations(f).value()) {
      CHECK(op.state == storage::OpState::done);
      if (op.kind == sync::op::kConsumption) ++localConsumptions;
      if (op.kind == sync::op::kAttachmentUpload) ++localPhotos;
      if (op.kind == sync::op::kNote) localNotes.insert(op.payload.dump());
    }
    const json effects = rig.sim.admin("GET", "/effects?workOrderId=" + id).json();
    const json& base = baseline.at(id);
    CHECK(effects["consumptions"].get<int>() - base["consumptions"].get<int>() == localConsumptions);
    CHECK(effects["attachments"].get<int>() - base["attachments"].get<int>() == localPhotos);
    CHECK(effects["attachmentsAvailable"].get<int>() - base["attachmentsAvailable"].get<int>() == localPhotos);
    const json wo = rig.sim.call("GET", "/work-orders/" + id, dispatcher).json();
    std::multiset<std::string> upstreamNotes;
    for (const auto& n : wo["notes"]) {
      const std::string text = n.value("text", "");
      if (text.rfind("crash-", 0) == 0) upstreamNotes.insert(text);
    }
    std::multiset<std::string> localTexts;
    for (const auto& dumped : localNotes) {
      const json p = json::parse(dumped);
      localTexts.insert(p.value("note", p.value("text", p.dump())));
    }
    CHECK(upstreamNotes == localTexts);
    consumptions += localConsumptions;
    photos += localPhotos;
    notes += static_cast<int>(localTexts.size());
  }
  int total = 0;
  for (const auto& [where, n] : kills) total += n;
  CHECK(total >= 400);
  WARN("kills: capture " << kills["capture"] << ", pull " << kills["pull"] << ", push " << kills["push"]
                         << ", upload " << kills["upload"] << " (total " << total << "); integrity checks "
                         << rig.integrityChecks << "; acknowledged captures " << rig.acked.size()
                         << "; upstream once each: " << consumptions << " consumptions, " << notes << " notes, "
                         << photos << " photos on " << touched.size() << " work orders; requests sent: pull "
                         << rig.requestsSeen["pull"] << ", push " << rig.requestsSeen["push"] << ", upload "
                         << rig.requestsSeen["upload"]);
}
