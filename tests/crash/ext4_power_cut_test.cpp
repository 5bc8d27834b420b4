// A real power cut under the store, attachments included: the data folder on an ext4 file
// system in a loop device, and at a random moment of a writer's work the file system is shut
// down as if the power went (EXT4_IOC_SHUTDOWN with NOLOGFLUSH: what was not yet written to
// the device, dirty page cache and uncommitted journal alike, is lost). Then it is mounted
// again (journal replay) and must hold every write the writer reported committed, with its
// photo's bytes, and pass integrity_check. Needs root for the mounts; says SKIP elsewhere.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <tuple>
#include <sstream>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/store.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using fieldagent::testing::TempDir;

namespace {

// linux/ext4.h: _IOR('X', 125, __u32); flag 2 = EXT4_GOING_FLAGS_NOLOGFLUSH.
constexpr unsigned long kExt4Shutdown = 0x8004587dul;
constexpr std::uint32_t kNoLogFlush = 2;

struct Written {
  std::int64_t writeId;
  std::string attachmentId, sha256;
  long round = 0, k = 0;
};

int sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string integrity(const std::filesystem::path& db) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK);
  std::string out = sqlite3_step(stmt) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)) : "";
  sqlite3_finalize(stmt);
  sqlite3_close(h);
  return out;
}

}  // namespace

TEST_CASE("ext4 power cuts under the writer: committed writes and their photos survive", "[powercut][ext4]") {
  TempDir dir;
  const auto image = dir / "disk.img";
  const auto mnt = dir / "mnt";
  std::filesystem::create_directories(mnt);
  std::string why;
  if (::unshare(CLONE_NEWNS) != 0) {
    why = std::string("no private mount namespace (needs root): ") + std::strerror(errno);
  } else if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    why = std::string("cannot make mounts private: ") + std::strerror(errno);
  } else if (sh("truncate -s 96M " + image.string()) != 0 || sh("mkfs.ext4 -q -F " + image.string()) != 0) {
    why = "mkfs.ext4 (e2fsprogs) not available";
  } else if (sh("mount -o loop " + image.string() + " " + mnt.string()) != 0) {
    why = "cannot mount a loop device";
  }
  if (!why.empty()) {
    WARN("SKIP: ext4 power-cut test not run here: " << why);
    return;
  }
  REQUIRE(sh("umount " + mnt.string()) == 0);

  std::mt19937 dice(20261128);
  std::vector<Written> all;
  constexpr int kCuts = 40;
  int cuts = 0, verifiedPhotos = 0;
  for (int round = 0; round < kCuts; ++round) {
    REQUIRE(sh("mount -o loop " + image.string() + " " + mnt.string()) == 0);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string r = std::to_string(round);
    const std::string data = (mnt / "data").string(), key = (mnt / "keys" / "data.key").string();
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execl(CRASH_POWER_WRITER, CRASH_POWER_WRITER, data.c_str(), key.c_str(), r.c_str(), nullptr);
      std::_Exit(127);
    }
    ::close(fds[1]);
    std::vector<Written> acked;
    std::string pending;
    auto take = [&](const std::string& line) {
      std::istringstream in(line);
      std::string w;
      Written x{};
      in >> w >> x.writeId >> x.attachmentId >> x.sha256 >> x.round >> x.k;
      if (w == "W") acked.push_back(x);
    };
    // Reads what the pipe holds; with `wait`, blocks for at least one more line.
    auto drain = [&](bool wait) {
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
          pending.append(buf, static_cast<std::size_t>(n));
          for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            take(pending.substr(0, nl));
            pending.erase(0, nl + 1);
            wait = false;
          }
          if (!wait) return;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;  // EOF, or nothing more without blocking
      }
    };
    const int target = std::uniform_int_distribution<int>(0, 10)(dice);
    while (static_cast<int>(acked.size()) < target) {
      const auto before = acked.size();
      drain(true);
      if (acked.size() == before) break;  // the writer ended (it must not)
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 20'000)(dice));
    // The writer is frozen first, so every line it printed is a commit that finished before the
    // cut (a real power cut leaves no process to print afterwards); then the power goes.
    REQUIRE(::kill(pid, SIGSTOP) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    drain(false);
    const int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    std::uint32_t flags = kNoLogFlush;
    REQUIRE(::ioctl(fd, kExt4Shutdown, &flags) == 0);
    ::close(fd);
    ::kill(pid, SIGKILL);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::close(fds[0]);
    ++cuts;
    REQUIRE(sh("umount " + mnt.string()) == 0);
    all.insert(all.end(), acked.begin(), acked.end());

    // Power back: the journal is replayed at mount.
    REQUIRE(sh("mount -o loop " + image.string() + " " + mnt.string()) == 0);
    {
      INFO("round " << round << ", writes reported " << all.size());
      REQUIRE(std::filesystem::exists(mnt / "data" / "fieldagent.db"));
      REQUIRE(integrity(mnt / "data" / "fieldagent.db") == "ok");
      platform::SystemClock clock;
      platform::FileKeyStore keys(mnt / "keys" / "data.key", platform::systemEntropy());
      auto store = storage::Store::open({mnt / "data"}, clock, platform::systemEntropy(), keys);
      INFO((store ? std::string() : store.error().message));
      REQUIRE(store.ok());
      for (const auto& w : all) {
        INFO("write " << w.writeId);
        if (w.attachmentId == "-") continue;
        auto rec = (*store)->attachments().attachment(w.attachmentId);
        REQUIRE(rec.ok());
        CHECK(rec->sha256 == w.sha256);
      }
      // Every reported write is there (its note operation carries its round and number, so a
      // write id used again after a lost write cannot pass for it); this round's photos are read
      // back whole.
      std::set<std::tuple<std::int64_t, long, long>> present;
      storage::OutboxFilter f;
      f.limit = 1000;
      for (;;) {
        auto page = (*store)->outbox().listOperations(f).value();
        if (page.empty()) break;
        for (const auto& o : page)
          if (o.kind == "note") present.insert({o.writeId, o.payload.value("round", -1L), o.payload.value("k", -1L)});
        f.afterId = page.back().id;
      }
      for (const auto& w : all) {
        INFO("write " << w.writeId << " (round " << w.round << " k " << w.k << ")");
        CHECK(present.count({w.writeId, w.round, w.k}) == 1);
      }
      for (const auto& w : acked) {
        if (w.attachmentId == "-") continue;
        auto reader = (*store)->attachments().openAttachment(w.attachmentId);
        REQUIRE(reader.ok());
        auto bytes = reader->read(0, static_cast<std::size_t>(reader->size()));
        REQUIRE(bytes.ok());
        CHECK(platform::hexEncode(platform::sha256(*bytes)) == w.sha256);
        ++verifiedPhotos;
      }
    }
    REQUIRE(sh("umount " + mnt.string()) == 0);
  }
  CHECK(cuts == kCuts);
  WARN("ext4 power cuts: " << cuts << ", writes reported committed " << all.size() << ", photos read back after their cut "
                           << verifiedPhotos);
}
