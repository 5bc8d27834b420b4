// Settings: defaults, file, environment, and a message naming the key for each kind of mistake.
#include <catch2/catch.hpp>

#include <fstream>

#include "error_code_checks.hpp"
#include "fieldagent/agent/config.hpp"
#include "temp_dir.hpp"

using namespace fieldagent;
using fieldagent::testing::TempDir;

namespace {
std::string errorFor(const std::string& text, const std::map<std::string, std::string>& env = {}) {
  TempDir dir;
  auto file = dir / "config.json";
  std::ofstream(file) << text;
  auto r = agent::loadConfig(file, env);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "config");
  return r.error().message;
}
}  // namespace

TEST_CASE("config: embedded defaults, then the file, then FIELDAGENT_* variables", "[agent][config]") {
  TempDir dir;
  auto file = dir / "config.json";
  std::ofstream(file) << R"({"tenant":"t1","localApi":{"port":9000},"laborRates":{"standard":95.5},
                             "sync":{"pullIntervalSeconds":600}})";
  auto r = agent::loadConfig(file, {{"FIELDAGENT_LOCALAPI_PORT", "9100"}, {"FIELDAGENT_TENANT", "t2"}});
  REQUIRE(r.ok());
  CHECK(r->tenant == "t2");
  CHECK(r->localApiPort == 9100);
  CHECK(r->pullInterval == std::chrono::seconds{600});
  CHECK(r->laborRates.at("standard") == 95.5);
  CHECK(r->localApiBind == "127.0.0.1");
  CHECK(r->tokenFile() == r->dataDir / "api-token");
}

TEST_CASE("config: each kind of mistake names the key", "[agent][config]") {
  CHECK_THAT(errorFor("{nope"), Catch::Contains("not valid JSON"));
  CHECK_THAT(errorFor("[1]"), Catch::Contains("JSON object"));
  CHECK_THAT(errorFor(R"({"localApi":{"prot":1}})"), Catch::Contains("localApi.prot: unknown key"));
  CHECK_THAT(errorFor(R"({"localApi":{"port":"80"}})"), Catch::Contains("localApi.port: must be an integer"));
  CHECK_THAT(errorFor(R"({"localApi":{"port":70000}})"), Catch::Contains("localApi.port: 70000 is out of range"));
  CHECK_THAT(errorFor(R"({"mfaMethod":"fax"})"), Catch::Contains("mfaMethod: \"fax\" is not one of"));
  CHECK_THAT(errorFor(R"({"laborRates":{"standard":-1}})"), Catch::Contains("laborRates.standard"));
  CHECK_THAT(errorFor(R"({"localApi":{"bind":"0.0.0.0"}})"), Catch::Contains("localApi.bind"));
  CHECK_THAT(errorFor("{}", {{"FIELDAGENT_SYNC_PULLINTERVALSECONDS", "soon"}}),
             Catch::Contains("FIELDAGENT_SYNC_PULLINTERVALSECONDS"));
  CHECK_THAT(errorFor("{}", {{"FIELDAGENT_COLOUR", "red"}}), Catch::Contains("FIELDAGENT_COLOUR: unknown setting"));
  // Found by fuzzing: a value that is not UTF-8 was taken, and printing the settings threw.
  CHECK_THAT(errorFor("{}", {{"FIELDAGENT_TENANT", "\xff\xfe"}}), Catch::Contains("FIELDAGENT_TENANT (tenant): not valid UTF-8"));
  auto missing = agent::loadConfig("/nonexistent/config.json", {});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("/nonexistent/config.json: cannot read"));
}

TEST_CASE("config: the uploader's settings a deployment chooses", "[agent][config]") {
  auto defaults = agent::loadConfig({}, {});
  REQUIRE(defaults.ok());
  CHECK(defaults->uploadChunkBytes == sync::tuning::kUploadChunkBytes);
  CHECK_FALSE(defaults->holdLargeUploadsWhenMetered);
  CHECK(defaults->largeUploadBytes == sync::tuning::kLargeUploadBytes);

  TempDir dir;
  auto file = dir / "config.json";
  std::ofstream(file) << R"({"uploads":{"chunkBytes":262144,"holdLargeWhenMetered":true}})";
  auto r = agent::loadConfig(file, {{"FIELDAGENT_UPLOADS_LARGEUPLOADBYTES", "500000"}});
  REQUIRE(r.ok());
  CHECK(r->uploadChunkBytes == 262144);
  CHECK(r->holdLargeUploadsWhenMetered);
  CHECK(r->largeUploadBytes == 500000);
  CHECK(r->toJson(true)["uploads"]["holdLargeWhenMetered"] == true);

  CHECK_THAT(errorFor(R"({"uploads":{"chunkBytes":100}})"), Catch::Contains("uploads.chunkBytes: 100 is out of range"));
  CHECK_THAT(errorFor(R"({"uploads":{"holdLargeWhenMetered":"yes"}})"),
             Catch::Contains("uploads.holdLargeWhenMetered: must be true or false"));
}
