#include <sys/stat.h>
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "temp_dir.hpp"

using namespace fieldagent::platform;
using fieldagent::testing::TempDir;

TEST_CASE("the data key is made once, kept in a 0600 file, and the same afterwards", "[keystore]") {
  TempDir dir;
  const auto file = dir / "keys" / "data.key";
  FileKeyStore store(file, systemEntropy());
  auto key = store.dataKey();
  REQUIRE(key.ok());
  CHECK(key->size() == 32);
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  FileKeyStore again(file, systemEntropy());
  CHECK(again.dataKey().value() == *key);
}

TEST_CASE("a damaged or exposed key file is refused, never replaced", "[keystore]") {
  TempDir dir;
  const auto file = dir / "data.key";
  REQUIRE(fs::atomicWrite(file, "truncated", 0600).ok());
  FileKeyStore store(file, systemEntropy());
  auto key = store.dataKey();
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().code == "corrupt");
  CHECK(fs::readFile(file).value() == "truncated");

  REQUIRE(fs::atomicWrite(file, std::string(32, 'k'), 0644).ok());
  CHECK(store.dataKey().error().code == "insecure");
}
