#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "fieldagent/platform/staged_file.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::RawDb;
using fieldagent::testing::TempDir;

namespace {

struct Reported {
  long round;
  long k;
  long writeId;
  bool operator<(const Reported& o) const { return std::tie(round, k) < std::tie(o.round, o.k); }
};

// Starts the writer with its stdout on a pipe; returns the pid and the read end.
pid_t startWriter(const std::filesystem::path& data, const std::filesystem::path& key, long round, FILE*& out) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    const std::string r = std::to_string(round);
    ::execl(STORAGE_CRASH_WRITER, STORAGE_CRASH_WRITER, data.c_str(), key.c_str(), r.c_str(), nullptr);
    std::_Exit(127);
  }
  ::close(fds[1]);
  out = ::fdopen(fds[0], "r");
  REQUIRE(out != nullptr);
  return pid;
}

bool readReport(FILE* in, std::vector<Reported>& into) {
  char line[128];
  if (std::fgets(line, sizeof line, in) == nullptr) return false;
  Reported r{};
  REQUIRE(std::sscanf(line, "W %ld %ld %ld", &r.round, &r.k, &r.writeId) == 3);
  into.push_back(r);
  return true;
}

void checkFile(const std::filesystem::path& db, const std::vector<Reported>& reported) {
  // Killed in its first start-up before the database was made (round 0, no write reported):
  // there is nothing to check, and nothing can have been lost.
  if (!std::filesystem::exists(db)) {
    CHECK(reported.empty());
    return;
  }
  RawDb raw(db);
  REQUIRE(raw.one("PRAGMA integrity_check") == "ok");
  // ...or after it made the file and before its schema committed.
  if (raw.count("SELECT COUNT(*) FROM sqlite_master") == 0) {
    CHECK(reported.empty());
    return;
  }
  CHECK(raw.column("PRAGMA foreign_key_check").empty());
  // No operation without its local write, no local write without its operations, and each
  // write with exactly the operations, stock change and attachment it was made with.
  CHECK(raw.count("SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS "
                  "(SELECT 1 FROM local_writes w WHERE w.id = o.write_id)") == 0);
  CHECK(raw.count("SELECT COUNT(*) FROM local_writes w WHERE (SELECT COUNT(*) FROM outbox o WHERE o.write_id = w.id) "
                  "<> 1 + (json_extract(w.patch, '$.crashProbe.k') % 3 = 0) + "
                  "(json_extract(w.patch, '$.crashProbe.k') % 7 = 0)") == 0);
  CHECK(raw.count("SELECT COUNT(*) FROM local_writes w WHERE (SELECT COUNT(*) FROM stock_adjustments a "
                  "WHERE a.write_id = w.id) <> (json_extract(w.patch, '$.crashProbe.k') % 5 = 0)") == 0);
  CHECK(raw.count("SELECT COUNT(*) FROM local_writes w WHERE (SELECT COUNT(*) FROM attachments a "
                  "WHERE a.write_id = w.id) <> (json_extract(w.patch, '$.crashProbe.k') % 7 = 0)") == 0);
  // The cached view of each work order carries its latest write.
  CHECK(raw.count("SELECT COUNT(*) FROM work_orders wo WHERE json_extract(wo.doc, '$.crashProbe') IS NOT "
                  "(SELECT json_extract(w.patch, '$.crashProbe') FROM local_writes w "
                  " WHERE w.work_order_id = wo.work_order_id AND w.active = 1 ORDER BY w.id DESC LIMIT 1)") == 0);
  for (const auto& r : reported) {
    INFO("round " << r.round << " write " << r.k);
    const std::string where = " = " + std::to_string(r.writeId) +
                              " AND json_extract(patch, '$.crashProbe.round') = " + std::to_string(r.round) +
                              " AND json_extract(patch, '$.crashProbe.k') = " + std::to_string(r.k);
    CHECK(raw.count("SELECT COUNT(*) FROM local_writes WHERE id" + where) == 1);
    CHECK(raw.count("SELECT COUNT(*) FROM outbox WHERE kind = 'note' AND write_id = " + std::to_string(r.writeId) +
                    " AND json_extract(payload, '$.k') = " + std::to_string(r.k)) == 1);
  }
}

}  // namespace

TEST_CASE("killed with SIGKILL at random moments 200+ times, the store loses no reported write and stays whole",
          "[crash]") {
  TempDir dir;
  const auto data = dir / "data";
  const auto key = dir / "keys" / "data.key";
  // A failure prints its seed; FIELDAGENT_CRASH_SEED=<seed> replays the same kill points.
  const char* fixed = std::getenv("FIELDAGENT_CRASH_SEED");
  const unsigned seed = fixed != nullptr ? static_cast<unsigned>(std::stoul(fixed)) : std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);

  constexpr int kKills = 220;
  std::vector<Reported> all;
  int kills = 0;
  for (long round = 0; round < kKills; ++round) {
    FILE* out = nullptr;
    const pid_t pid = startWriter(data, key, round, out);
    // Kill after a random number of reported writes (0 = during start-up, open or migration):
    // the next write, state move or attachment is then somewhere in flight.
    const int target = static_cast<int>(rng() % 9);
    std::vector<Reported> reported;
    bool alive = true;
    while (static_cast<int>(reported.size()) < target && (alive = readReport(out, reported))) {
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // Lines already in the pipe are writes that committed before the kill.
    while (readReport(out, reported)) {
    }
    std::fclose(out);
    if (!alive) {
      INFO("round " << round);
      REQUIRE(WIFSIGNALED(status));  // the writer must not stop on its own
    }
    REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    ++kills;
    checkFile(data / "fieldagent.db", reported);
    all.insert(all.end(), reported.begin(), reported.end());
  }
  CHECK(kills >= 200);

  // After all kills: every write ever reported is there, and a last open puts the in-flight
  // operations back and leaves exactly the recorded attachment files.
  checkFile(data / "fieldagent.db", all);
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys(key, entropy);
  platform::SystemClock clock;
  StoreOptions options;
  options.dataDir = data;
  auto store = Store::open(options, clock, entropy, keys);
  REQUIRE(store.ok());
  auto counts = (*store)->outbox().outboxCounts();
  CHECK(counts->byState.at(OpState::in_flight) == 0);
  RawDb raw(data / "fieldagent.db");
  std::set<std::string> recorded;
  for (const auto& id : raw.column("SELECT id FROM attachments")) recorded.insert(id + ".att");
  auto files = platform::fs::listFiles((*store)->attachmentsDir());
  REQUIRE(files.ok());
  CHECK(std::set<std::string>(files->begin(), files->end()) == recorded);
  for (const auto& id : raw.column("SELECT id FROM attachments")) {
    auto reader = (*store)->attachments().openAttachment(id);
    REQUIRE(reader.ok());
    CHECK(reader->read(0, 10).ok());
  }
  WARN("kills: " << kills << ", writes reported committed: " << all.size());
}
