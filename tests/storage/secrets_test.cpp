#include <sys/stat.h>
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/logging.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "store_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::storage;
using fieldagent::testing::sampleWorkOrder;
using fieldagent::testing::StoreFixture;

namespace {

const std::string kToken = "eyJhbGciOiJIUzI1NiJ9.session-token-7f3a9c";
const std::string kTotp = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const std::string kPassword = "correct horse battery staple";

bool fileContains(const std::filesystem::path& p, const std::string& needle) {
  if (!std::filesystem::exists(p)) return false;
  auto bytes = platform::fs::readFile(p, 1u << 30);
  REQUIRE(bytes.ok());
  return bytes->find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("secrets are sealed on disk: no plaintext token or TOTP secret in the database, WAL or secrets file",
          "[secrets]") {
  StoreFixture f;
  const auto secretsFile = f.options.dataDir / "secrets.bin";
  {
    auto secrets = SecretStore::open(secretsFile, f.keys, f.entropy);
    REQUIRE(secrets.ok());
    REQUIRE((*secrets)->put(secret::kSessionToken, kToken).ok());
    REQUIRE((*secrets)->put(secret::kTotpSecret, kTotp).ok());
    REQUIRE((*secrets)->put(secret::kPassword, kPassword).ok());
  }
  // The agent's day goes on with the secrets in use: the database grows, the WAL is live.
  REQUIRE(f.store->workOrders().upsertWorkOrder({sampleWorkOrder("wo_1"), ""}).ok());
  f.moveStatus("wo_1", "en_route");

  const auto db = f.store->databasePath();
  std::filesystem::path wal = db;
  wal += "-wal";
  REQUIRE(std::filesystem::exists(wal));
  for (const auto& file : {db, wal, secretsFile}) {
    INFO(file.string());
    CHECK_FALSE(fileContains(file, kToken));
    CHECK_FALSE(fileContains(file, kTotp));
    CHECK_FALSE(fileContains(file, kPassword));
  }
  struct stat st {};
  REQUIRE(::stat(secretsFile.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto reopened = SecretStore::open(secretsFile, f.keys, f.entropy);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->get(secret::kSessionToken) == std::optional<std::string>(kToken));
  CHECK(*(*reopened)->get(secret::kTotpSecret) == std::optional<std::string>(kTotp));
  REQUIRE((*reopened)->erase(secret::kSessionToken).ok());
  CHECK_FALSE((*reopened)->get(secret::kSessionToken)->has_value());
  CHECK((*reopened)->names() == std::vector<std::string>{secret::kPassword, secret::kTotpSecret});
}

TEST_CASE("stored secrets are redacted from log lines", "[secrets]") {
  StoreFixture f;
  auto secrets = SecretStore::open(f.options.dataDir / "secrets.bin", f.keys, f.entropy);
  REQUIRE(secrets.ok());
  REQUIRE((*secrets)->put(secret::kTotpSecret, kTotp).ok());
  const std::string line = platform::logRedactor()->apply("enrolled authenticator with " + kTotp);
  CHECK(line.find(kTotp) == std::string::npos);
}

TEST_CASE("a damaged secrets file, or one sealed under another key, is refused and kept", "[secrets]") {
  StoreFixture f;
  const auto file = f.options.dataDir / "secrets.bin";
  {
    auto secrets = SecretStore::open(file, f.keys, f.entropy);
    REQUIRE((*secrets)->put(secret::kSessionToken, kToken).ok());
  }
  const std::string sealed = *platform::fs::readFile(file);

  SECTION("one byte changed") {
    std::string bad = sealed;
    bad[bad.size() / 2] ^= 0x20;
    REQUIRE(platform::fs::atomicWrite(file, bad, 0600).ok());
    auto r = SecretStore::open(file, f.keys, f.entropy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "corrupt");
    CHECK(*platform::fs::readFile(file) == bad);
  }
  SECTION("another device's key") {
    platform::FileKeyStore otherKey(f.dir / "other" / "data.key", f.entropy);
    auto r = SecretStore::open(file, otherKey, f.entropy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "corrupt");
    CHECK(r.error().message.find("another data key") != std::string::npos);
  }
  SECTION("not a secrets file at all") {
    REQUIRE(platform::fs::atomicWrite(file, "{\"session_token\":\"x\"}", 0600).ok());
    CHECK(SecretStore::open(file, f.keys, f.entropy).error().code == "corrupt");
  }
}
