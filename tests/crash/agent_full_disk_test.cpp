// The agent's data folder on a small tmpfs that fills up: captures through the local API fail
// with a clear 507 no_space, nothing stored before is damaged, reads go on, and once space
// returns captures and sync work again. The tmpfs is mounted in a private mount namespace,
// which needs root (CI is root); elsewhere the test says SKIP and why.
#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstring>

#include "agent_process.hpp"

using namespace fieldagent::testing;
using nlohmann::json;

namespace {

bool mountSmallDisk(const std::filesystem::path& where, std::size_t bytes, std::string& why) {
  if (::unshare(CLONE_NEWNS) != 0) {
    why = std::string("no private mount namespace (needs root): ") + std::strerror(errno);
    return false;
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    why = std::string("cannot make mounts private: ") + std::strerror(errno);
    return false;
  }
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  if (::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    why = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
    return false;
  }
  return true;
}

struct Unmount {
  std::filesystem::path where;
  ~Unmount() { ::umount2(where.c_str(), MNT_DETACH); }
};

// Fills the disk with a file of 4 KiB blocks until the kernel says ENOSPC.
void fill(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const std::string block(4096, 'f');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  CHECK(errno == ENOSPC);
  ::close(fd);
}

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

TEST_CASE("the agent on a full disk answers 507 no_space and keeps what it had and recovers when space returns",
          "[full_disk][agent]") {
  TempDir dir;
  const auto disk = dir / "disk";
  std::filesystem::create_directories(disk);
  std::string why;
  if (!mountSmallDisk(disk, 24u << 20, why)) {
    WARN("SKIP: agent full-disk test not run here: " << why);
    return;
  }
  Unmount unmount{disk};

  SimProcess sim({"--seed", "20"});
  const auto& user = sim.technicianUser("totp");
  const auto data = disk / "data";
  AgentProcess agent(writeAgentConfig(dir / "config.json", sim, user.tenant, data), dir / "agent-stderr.txt");
  signInAndPrime(agent, user);

  auto scheduled = agent.call("GET", "/work-orders?status=scheduled&pageSize=200").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];
  const json before = agent.call("GET", "/work-orders/" + wo).json();
  const int photosBefore = sim.admin("GET", "/effects?workOrderId=" + wo).json()["attachmentsAvailable"].get<int>();
  REQUIRE(agent.call("POST", "/work-orders/" + wo + "/status", json{{"status", "en_route"}}.dump()).status == 202);
  const std::string photo(300'000, 'p');
  auto kept = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=kept.jpg", photo,
                         {{"Content-Type", "image/jpeg"}});
  REQUIRE(kept.status == 202);
  REQUIRE(agent.call("POST", "/work-orders/" + wo + "/notes", json{{"text", "full-disk note before"}}.dump()).status ==
          202);
  const auto outboxBefore = agent.call("GET", "/agent/outbox?workOrderId=" + wo).json()["items"].size();

  // The disk fills up (another program's file, say).
  const auto filler = disk / "filler";
  fill(filler);

  // A photo cannot be stored: 507 with a message that says so; its partial file is gone.
  auto refusedPhoto = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=big.jpg",
                                 std::string(2'000'000, 'q'), {{"Content-Type", "image/jpeg"}});
  INFO(refusedPhoto.body);
  CHECK(refusedPhoto.status == 507);
  CHECK(refusedPhoto.json()["error"] == "no_space");
  CHECK_THAT(refusedPhoto.body, Catch::Contains("full") || Catch::Contains("space"));
  // Notes go on until the database cannot grow either, then 507 too.
  int accepted = 0, refused = 0;
  std::string refusal;
  for (int i = 0; i < 400 && refused == 0; ++i) {
    auto r = agent.call("POST", "/work-orders/" + wo + "/notes",
                        json{{"text", "full-disk note " + std::to_string(i) + " " + std::string(3000, 'n')}}.dump());
    if (r.status == 202) {
      ++accepted;
    } else {
      refusal = r.body;
      INFO(r.body);
      CHECK(r.status == 507);
      CHECK(r.json()["error"] == "no_space");
      ++refused;
    }
  }
  REQUIRE(refused == 1);
  INFO("refusal: " << refusal);
  CHECK_THAT(refusal, Catch::Contains("space") || Catch::Contains("full"));

  // Reads still work and show everything stored before.
  auto listed = agent.call("GET", "/work-orders/" + wo);
  REQUIRE(listed.status == 200);
  CHECK(listed.json()["status"] == "en_route");
  CHECK(listed.json()["workOrderId"] == before["workOrderId"]);
  auto attachments = agent.call("GET", "/work-orders/" + wo + "/attachments").json();
  REQUIRE(attachments["items"].size() == 1);
  CHECK(attachments["items"][0]["sizeBytes"] == photo.size());
  CHECK(agent.call("GET", "/agent/outbox?workOrderId=" + wo + "&limit=1000").json()["items"].size() ==
        outboxBefore + static_cast<std::size_t>(accepted));
  CHECK(agent.call("GET", "/agent/status").status == 200);

  // Space comes back: captures are accepted again and everything goes upstream.
  std::filesystem::remove(filler);
  auto after = agent.call("POST", "/work-orders/" + wo + "/notes", json{{"text", "full-disk note after"}}.dump());
  INFO(after.body);
  REQUIRE(after.status == 202);
  auto photoAfter = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=after.jpg",
                               std::string(100'000, 'a'), {{"Content-Type", "image/jpeg"}});
  REQUIRE(photoAfter.status == 202);
  REQUIRE(agent.call("POST", "/agent/sync").status == 202);
  agent.waitForStatus(
      [](const json& s) {
        return s["outbox"]["pending"] == 0 && s["outbox"]["in_flight"] == 0 && s["outbox"]["done"].get<int>() > 0;
      },
      "the outbox to drain after space returned");
  auto status = agent.call("GET", "/agent/status").json();
  CHECK(status["outbox"]["rejected"] == 0);
  CHECK(status["outbox"]["conflict"] == 0);
  const json effects = sim.admin("GET", "/effects?workOrderId=" + wo).json();
  CHECK(effects["attachmentsAvailable"] == photosBefore + 2);
  const std::string dispatcher = sim.login(sim.user("totp", "dispatch"));
  const json upstream = sim.call("GET", "/work-orders/" + wo, dispatcher).json();
  int notes = 0;
  for (const auto& n : upstream["notes"])
    if (n.value("text", "").rfind("full-disk note", 0) == 0) ++notes;
  CHECK(notes == accepted + 2);
  CHECK(upstream["status"] == "en_route");

  CHECK(agent.stop() == 0);
  CHECK(integrity(data / "fieldagent.db") == "ok");
  WARN("full disk: " << accepted << " notes accepted after the filler, then 507 no_space; " << notes
                     << " notes upstream once each after space returned");
}
