// Fuzz target: agent::loadConfig, the settings file and the FIELDAGENT_* environment.
//
// Input: the file's contents, then optionally lines "%%" followed by NAME=value environment
// entries, one per line:
//   {"localApi": {"port": 8787}, "laborRates": {"standard": 95}}
//   %%
//   FIELDAGENT_SYNC_PULLINTERVALSECONDS=600
//   FIELDAGENT_LOG_LEVEL=debug
// A file of exactly "-" means no file at all (defaults and environment only).
#include <fstream>

#include "fieldagent/agent/config.hpp"
#include "fuzz_support.hpp"

using namespace fieldagent;

namespace {
fuzz::ScratchCleanup* scratch = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quietLogs();
  scratch = new fuzz::ScratchCleanup{fuzz::scratchDir("config")};
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::sections(fuzz::asText(data, size));
  std::map<std::string, std::string> environment;
  if (parts.size() > 1) {
    std::string_view env = parts[1];
    while (!env.empty()) {
      const auto end = env.find('\n');
      const std::string_view line = env.substr(0, end);
      const auto eq = line.find('=');
      if (eq != std::string_view::npos) environment[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
      if (end == std::string_view::npos) break;
      env.remove_prefix(end + 1);
    }
  }
  std::filesystem::path file;
  if (parts[0] != "-") {
    file = scratch->dir / "config.json";
    std::ofstream(file, std::ios::binary | std::ios::trunc) << parts[0];
  }
  auto config = agent::loadConfig(file, environment);
  if (!config) {
    // A refused setting names what is wrong, for the person who wrote it.
    FUZZ_CHECK(config.error().code == "config");
    FUZZ_CHECK(!config.error().message.empty());
    return 0;
  }
  // What loadConfig accepts holds the checks it promises.
  const auto& c = *config;
  FUZZ_CHECK(c.localApiBind == "127.0.0.1" || c.localApiBind == "::1" || c.localApiBind == "localhost");
  FUZZ_CHECK(c.localApiPort >= 0 && c.localApiPort <= 65535);
  FUZZ_CHECK(c.localApiMaxConnections >= 2 && c.localApiMaxConnections <= 256);
  FUZZ_CHECK(c.pullInterval.count() >= 5 && c.pullInterval.count() <= 86400);
  FUZZ_CHECK(c.pushInterval.count() >= 1 && c.pushInterval.count() <= 3600);
  FUZZ_CHECK(c.attachmentMaxBytes <= c.attachmentQuotaBytes);
  FUZZ_CHECK(!c.upstreamBaseUrl.empty() && !c.tenant.empty() && !c.currency.empty() && !c.dataDir.empty());
  for (const auto& [type, rate] : c.laborRates) FUZZ_CHECK(rate >= 0);
  // `fieldagent config` prints the settings with the secrets redacted.
  const auto shown = c.toJson(true);
  FUZZ_CHECK(shown["upstream"]["integrationToken"] == (c.upstreamIntegrationToken.empty() ? "" : "***"));
  FUZZ_CHECK(shown["localApi"]["token"] == (c.localApiToken.empty() ? "" : "***"));
  // The settings it printed read back as the same settings.
  const auto reprinted = scratch->dir / "reprinted.json";
  std::ofstream(reprinted, std::ios::binary | std::ios::trunc) << c.toJson(false).dump();
  auto again = agent::loadConfig(reprinted, {});
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->toJson(false) == c.toJson(false));
  return 0;
}
