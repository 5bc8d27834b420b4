#include <sys/stat.h>
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/files.hpp"
#include "temp_dir.hpp"

using namespace fieldagent::platform;
using fieldagent::testing::TempDir;

namespace {
unsigned modeOf(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}
}  // namespace

TEST_CASE("atomic write replaces a file whole, with the mode asked, leaving no temp files", "[files]") {
  TempDir dir;
  const auto file = dir / "secrets.json";
  REQUIRE(fs::atomicWrite(file, "first", 0600).ok());
  CHECK(fs::readFile(file).value() == "first");
  CHECK(modeOf(file) == 0600);

  const std::string big(3 << 20, 'z');
  REQUIRE(fs::atomicWrite(file, big, 0640).ok());
  CHECK(fs::readFile(file).value() == big);
  CHECK(modeOf(file) == 0640);

  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("atomic write into a missing folder fails clearly and creates nothing", "[files]") {
  TempDir dir;
  auto r = fs::atomicWrite(dir / "nope" / "file", "x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "not_found");
  CHECK(r.error().message.find("nope") != std::string::npos);
}

TEST_CASE("reading a file reports missing files and oversize files by code", "[files]") {
  TempDir dir;
  CHECK(fs::readFile(dir / "absent").error().code == "not_found");
  REQUIRE(fs::atomicWrite(dir / "f", std::string(100, 'a')).ok());
  auto tooLarge = fs::readFile(dir / "f", 10);
  CHECK(tooLarge.error().code == "payload_too_large");
  CHECK(fs::readFile(dir.path()).error().code == "io");  // a folder is not a file
  REQUIRE(fs::atomicWrite(dir / "empty", "").ok());
  CHECK(fs::readFile(dir / "empty").value().empty());
}

TEST_CASE("ensureDir makes nested folders with the mode asked and keeps contents", "[files]") {
  TempDir dir;
  const auto data = dir / "var" / "lib" / "fieldagent";
  REQUIRE(fs::ensureDir(data, 0700).ok());
  CHECK(modeOf(data) == 0700);
  REQUIRE(fs::atomicWrite(data / "keep", "x").ok());
  REQUIRE(fs::ensureDir(data, 0750).ok());
  CHECK(modeOf(data) == 0750);
  CHECK(fs::readFile(data / "keep").value() == "x");
  REQUIRE(fs::atomicWrite(dir / "plain", "x").ok());
  CHECK(fs::ensureDir(dir / "plain").error().code == "io");
}

TEST_CASE("free space is reported for the data folder", "[files]") {
  TempDir dir;
  auto free = fs::freeBytes(dir.path());
  REQUIRE(free.ok());
  CHECK(*free > 0);
  CHECK_FALSE(fs::freeBytes(dir / "absent").ok());
}
