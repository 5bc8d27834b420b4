// The command line, and the RFC 6238 TOTP helper the tests log in with.
#include <catch2/catch.hpp>

#include "error_code_checks.hpp"
#include "options.hpp"
#include "totp.hpp"

using fieldagent::sim::parseOptions;

TEST_CASE("defaults and flags", "[options]") {
  auto defaults = parseOptions({});
  REQUIRE(defaults.ok());
  CHECK(defaults->bind == "127.0.0.1");
  CHECK(defaults->port == 0);
  CHECK(defaults->temporaryData);
  CHECK(defaults->sim.workOrders == 50);
  CHECK(defaults->sim.tokenTtlSeconds == 3600);

  auto o =
      parseOptions({"--port",     "8080", "--seed",         "10000", "--technicians", "12",     "--token-ttl",  "5",
                    "--fail-503", "0.25", "--throttle-429", "0.1",   "--retry-after", "3",      "--latency-ms", "40",
                    "--drop",     "0.05", "--freeze-clock", "now",   "--data",        "/tmp/x", "--verbose"});
  REQUIRE(o.ok());
  CHECK(o->port == 8080);
  CHECK(o->sim.workOrders == 10000);
  CHECK(o->sim.technicians == 12);
  CHECK(o->sim.tokenTtlSeconds == 5);
  CHECK(o->sim.faults.error503Share == Approx(0.25));
  CHECK(o->sim.faults.throttle429Share == Approx(0.1));
  CHECK(o->sim.faults.dropShare == Approx(0.05));
  CHECK(o->sim.faults.retryAfterSeconds == 3);
  CHECK(o->sim.faults.latencyMs == 40);
  CHECK(o->freezeClockAt == std::optional<std::string>("now"));
  CHECK(o->sim.dataDir == "/tmp/x");
  CHECK_FALSE(o->temporaryData);
  CHECK(o->verbose);
  CHECK(parseOptions({"--help"})->help);
}

TEST_CASE("bad values are usage errors naming the flag", "[options]") {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--port", "70000"},
                                             {"--port"},
                                             {"--seed", "0"},
                                             {"--seed", "12abc"},
                                             {"--fail-500", "1.5"},
                                             {"--drop", "x"},
                                             {"--prefix", "no-slash"},
                                             {"--fail-503", "0.6", "--fail-500", "0.6"},
                                             {"--data", ""},
                                             {"--what"}}) {
    auto r = parseOptions(args);
    INFO(args.front());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "usage");
  }
}

TEST_CASE("TOTP matches the RFC 6238 SHA-1 test vectors", "[totp]") {
  const std::string key = "12345678901234567890";
  // RFC 6238 appendix B gives 8-digit codes; the 6-digit code is their last six digits.
  CHECK(fieldagent::testing::totpCode(key, 59, 8) == "94287082");
  CHECK(fieldagent::testing::totpCode(key, 1111111109, 8) == "07081804");
  CHECK(fieldagent::testing::totpCode(key, 1234567890, 8) == "89005924");
  CHECK(fieldagent::testing::totpCode(key, 20000000000, 8) == "65353130");
  CHECK(fieldagent::testing::totpCode(key, 59) == "287082");
  // Base32 of the same key, as an authenticator app takes it.
  CHECK(fieldagent::testing::totpCodeFromBase32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1111111109) == "081804");
  CHECK_FALSE(fieldagent::testing::totpCodeFromBase32("not base32!", 59).has_value());
}

TEST_CASE("the ignore-query flag takes technicianId and sort and nothing else", "[options]") {
  auto both = parseOptions({"--ignore-query", "technicianId,sort"});
  REQUIRE(both.ok());
  CHECK(both->sim.ignoredWorkOrderQuery == std::set<std::string>{"technicianId", "sort"});
  auto one = parseOptions({"--ignore-query", "sort"});
  REQUIRE(one.ok());
  CHECK(one->sim.ignoredWorkOrderQuery == std::set<std::string>{"sort"});
  CHECK(parseOptions({})->sim.ignoredWorkOrderQuery.empty());
  for (const char* bad : {"status", "sort,", "", "technicianid"}) {
    auto r = parseOptions({"--ignore-query", bad});
    INFO(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("--ignore-query"));
  }
}
