// A real full disk: a small tmpfs mounted in a private mount namespace (as root, or through a
// user namespace), so ENOSPC comes from the kernel, not from a mock.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "error_code_checks.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::RawDb;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::TempDir;

namespace {

bool writeFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// Mounts a tmpfs of `bytes` at `where`, visible to this process only. False where the sandbox
// allows neither a mount namespace nor a user namespace.
bool mountSmallDisk(const std::filesystem::path& where, std::size_t bytes, std::string& why) {
  if (::unshare(CLONE_NEWNS) != 0) {
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      why = std::string("no mount namespace: ") + std::strerror(errno);
      return false;
    }
    writeFile("/proc/self/setgroups", "deny");
    writeFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
    writeFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    why = std::string("cannot make mounts private: ") + std::strerror(errno);
    return false;
  }
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  if (::mount("tmpfs", where.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    why = std::string("cannot mount tmpfs: ") + std::strerror(errno);
    return false;
  }
  return true;
}

struct Unmount {
  std::filesystem::path where;
  ~Unmount() { ::umount2(where.c_str(), MNT_DETACH); }
};

}  // namespace

TEST_CASE("a full disk fails captures with no_space and corrupts nothing already stored", "[full_disk]") {
  TempDir dir;
  const auto disk = dir / "disk";
  std::filesystem::create_directories(disk);
  std::string why;
  if (!mountSmallDisk(disk, 3u << 20, why)) {
    WARN("full-disk test not run here: " << why);
    return;
  }
  Unmount unmount{disk};

  platform::FakeClock clock;
  platform::SystemEntropy entropy;
  platform::FileKeyStore keys(dir / "keys" / "data.key", entropy);
  StoreOptions options;
  options.dataDir = disk / "data";
  auto opened = Store::open(options, clock, entropy, keys);
  REQUIRE(opened.ok());
  auto store = std::move(opened).value();
  REQUIRE(store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());

  const std::string photo(100'000, 'p');
  auto writer = store->attachments().beginAttachment({"wo_1", "photo", "p.jpg", "image/jpeg", std::nullopt});
  REQUIRE(writer.ok());
  REQUIRE(writer->append(photo).ok());
  auto first = writer->finish();
  REQUIRE(first.ok());
  LocalWrite keep;
  keep.workOrderId = "wo_1";
  keep.attachments.push_back(*first);
  keep.operations.push_back({"attachment_upload", {{"attachmentId", first->id}}, "", {}, {}});
  REQUIRE(store->localWrites().applyLocalWrite(keep).ok());
  int committed = 1;

  // A photo larger than the disk: refused with no_space, and its partial file is gone.
  auto big = store->attachments().beginAttachment({"wo_1", "photo", "huge.jpg", "image/jpeg", std::nullopt});
  REQUIRE(big.ok());
  std::optional<Error> failure;
  for (int i = 0; i < 100; ++i) {
    auto r = big->append(std::string(64 * 1024, static_cast<char>(i)));
    if (!r) {
      failure = r.error();
      break;
    }
  }
  if (!failure) {
    auto r = big->finish();
    REQUIRE_FALSE(r.ok());
    failure = r.error();
  }
  REQUIRE(failure);
  CHECK(failure->code == "no_space");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(store->attachmentsDir())) ++files;
  CHECK(files == 1);

  // Fill what is left, then capture status moves until the database cannot grow.
  const auto filler = disk / "filler";
  {
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const std::string block(4096, 'f');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ::close(fd);
  }
  int refused = 0;
  for (int i = 0; i < 200 && refused == 0; ++i) {
    LocalWrite w;
    w.workOrderId = "wo_1";
    w.workOrderPatch = Json{{"notes", std::string(2000, 'n') + std::to_string(i)}};
    w.operations.push_back({"note", {{"text", std::string(2000, 'n')}, {"i", i}}, "", {}, {}});
    auto r = store->localWrites().applyLocalWrite(w);
    if (r) {
      ++committed;
    } else {
      INFO(r.error().message);
      CHECK(r.error().code == "no_space");
      ++refused;
    }
  }
  CHECK(refused == 1);

  // Space comes back: the store goes on, and everything committed before is intact.
  std::filesystem::remove(filler);
  LocalWrite after;
  after.workOrderId = "wo_1";
  after.operations.push_back({"note", {{"text", "after"}}, "", {}, {}});
  REQUIRE(store->localWrites().applyLocalWrite(after).ok());
  ++committed;
  store.reset();
  auto again = Store::open(options, clock, entropy, keys);
  REQUIRE(again.ok());
  auto reader = (*again)->attachments().openAttachment(first->id);
  REQUIRE(reader.ok());
  CHECK(*reader->read(0, photo.size()) == photo);
  CHECK((*again)->outbox().outboxCounts()->byState.at(OpState::pending) == committed);
  RawDb raw((*again)->databasePath());
  CHECK(raw.one("PRAGMA integrity_check") == "ok");
}
