// The local API's bearer token: from the config, or the token file made at first start.
#include "fieldagent/agent/local_api.hpp"
#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/files.hpp"

namespace fieldagent::agent {

Result<std::string> apiToken(const Config& config, platform::Entropy& entropy) {
  if (!config.localApiToken.empty()) return config.localApiToken;
  const auto file = config.tokenFile();
  if (std::filesystem::exists(file)) {
    auto text = platform::fs::readFile(file, tuning::kTokenFileMaxBytes);
    if (!text) return makeError("config", "localApi.tokenFile " + file.string() + ": " + text.error().message);
    std::string token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.size() < tuning::kTokenMinLength)
      return makeError("config", "localApi.tokenFile " + file.string() + ": token too short");
    return token;
  }
  if (auto dir = platform::fs::ensureDir(file.parent_path(), 0700); !dir)
    return makeError("config", "localApi.tokenFile " + file.string() + ": " + dir.error().message);
  std::string token = platform::base64UrlEncode(entropy.bytes(tuning::kTokenRandomBytes));
  if (auto w = platform::fs::atomicWrite(file, token + "\n", 0600); !w)
    return makeError("config", "localApi.tokenFile " + file.string() + ": " + w.error().message);
  return token;
}

}  // namespace fieldagent::agent
