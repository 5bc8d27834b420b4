#include "fieldagent/agent/config.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "fieldagent/platform/files.hpp"

extern char** environ;

namespace fieldagent::agent {

using nlohmann::json;

namespace {

Error bad(const std::string& key, const std::string& what) { return makeError("config", key + ": " + what); }

// One setting: where it lives in the file, and how a value is checked and applied.
struct Key {
  std::string path;  // "localApi.port"
  std::function<Result<void>(const json&, Config&)> apply;
  std::string kind;  // what an environment value is parsed as: "string", "integer", "json"
};

Result<void> needString(const std::string& key, const json& v) {
  if (!v.is_string()) return bad(key, std::string("must be a string, not ") + v.type_name());
  return {};
}

Key text(const std::string& path, std::string Config::*field, std::set<std::string> allowed = {},
         bool nonEmpty = false) {
  return {path,
          [=](const json& v, Config& c) -> Result<void> {
            if (auto ok = needString(path, v); !ok) return ok;
            auto s = v.get<std::string>();
            if (nonEmpty && s.empty()) return bad(path, "must not be empty");
            if (!allowed.empty() && !allowed.count(s)) {
              std::string list;
              for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
              return bad(path, "\"" + s + "\" is not one of " + list);
            }
            c.*field = s;
            return {};
          },
          "string"};
}

Result<std::int64_t> integer(const std::string& key, const json& v, std::int64_t lo, std::int64_t hi) {
  if (!v.is_number_integer() && !v.is_number_unsigned())
    return bad(key, std::string("must be an integer, not ") + v.type_name());
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    return bad(key, std::to_string(v.get<std::uint64_t>()) + " is out of range (" + std::to_string(lo) + ".." +
                        std::to_string(hi) + ")");
  auto n = v.get<std::int64_t>();
  if (n < lo || n > hi) return bad(key, std::to_string(n) + " is out of range (" + std::to_string(lo) + ".." +
                                            std::to_string(hi) + ")");
  return n;
}

Key seconds(const std::string& path, std::chrono::seconds Config::*field, std::int64_t lo, std::int64_t hi) {
  return {path,
          [=](const json& v, Config& c) -> Result<void> {
            auto n = integer(path, v, lo, hi);
            if (!n) return n.error();
            c.*field = std::chrono::seconds{*n};
            return {};
          },
          "integer"};
}

Key bytes(const std::string& path, std::uint64_t Config::*field, std::int64_t lo, std::int64_t hi) {
  return {path,
          [=](const json& v, Config& c) -> Result<void> {
            auto n = integer(path, v, lo, hi);
            if (!n) return n.error();
            c.*field = static_cast<std::uint64_t>(*n);
            return {};
          },
          "integer"};
}

const std::vector<Key>& keys() {
  static const std::vector<Key> all = [] {
    std::vector<Key> k;
    k.push_back(text("upstream.baseUrl", &Config::upstreamBaseUrl, {}, true));
    k.push_back(text("upstream.integrationToken", &Config::upstreamIntegrationToken));
    k.push_back(text("tls.caBundle", &Config::tlsCaBundle));
    k.push_back({"tls.pins",
                 [](const json& v, Config& c) -> Result<void> {
                   if (!v.is_array()) return bad("tls.pins", std::string("must be an array, not ") + v.type_name());
                   c.tlsPins.clear();
                   for (std::size_t i = 0; i < v.size(); ++i) {
                     if (!v[i].is_string() || v[i].get<std::string>().empty())
                       return bad("tls.pins[" + std::to_string(i) + "]",
                                  "must be the SHA-256 of a public key, in hex or base64");
                     c.tlsPins.push_back(v[i].get<std::string>());
                   }
                   return {};
                 },
                 "json"});
    k.push_back(text("tenant", &Config::tenant, {}, true));
    k.push_back(text("mfaMethod", &Config::mfaMethod, {"totp", "sms", "email", "none"}));
    k.push_back({"dataDir",
                 [](const json& v, Config& c) -> Result<void> {
                   if (auto ok = needString("dataDir", v); !ok) return ok;
                   if (v.get<std::string>().empty()) return bad("dataDir", "must not be empty");
                   c.dataDir = v.get<std::string>();
                   return {};
                 },
                 "string"});
    k.push_back(text("localApi.bind", &Config::localApiBind, {}, true));
    k.push_back({"localApi.port",
                 [](const json& v, Config& c) -> Result<void> {
                   auto n = integer("localApi.port", v, 0, 65535);
                   if (!n) return n.error();
                   c.localApiPort = static_cast<int>(*n);
                   return {};
                 },
                 "integer"});
    k.push_back(text("localApi.token", &Config::localApiToken));
    k.push_back({"localApi.tokenFile",
                 [](const json& v, Config& c) -> Result<void> {
                   if (auto ok = needString("localApi.tokenFile", v); !ok) return ok;
                   c.localApiTokenFile = v.get<std::string>();
                   return {};
                 },
                 "string"});
    k.push_back({"localApi.maxConnections",
                 [](const json& v, Config& c) -> Result<void> {
                   auto n = integer("localApi.maxConnections", v, 2, 256);
                   if (!n) return n.error();
                   c.localApiMaxConnections = static_cast<int>(*n);
                   return {};
                 },
                 "integer"});
    k.push_back(seconds("sync.pullIntervalSeconds", &Config::pullInterval, 5, 86400));
    k.push_back(seconds("sync.pushIntervalSeconds", &Config::pushInterval, 1, 3600));
    k.push_back(text("log.level", &Config::logLevel,
                     {"fatal", "critical", "error", "warning", "notice", "information", "debug", "trace"}));
    k.push_back(text("log.sink", &Config::logSink, {"console", "syslog"}));
    k.push_back(bytes("attachments.quotaBytes", &Config::attachmentQuotaBytes, 1 << 20, std::int64_t{1} << 42));
    k.push_back(bytes("attachments.maxBytes", &Config::attachmentMaxBytes, 1024, std::int64_t{1} << 40));
    k.push_back(bytes("uploads.chunkBytes", &Config::uploadChunkBytes, 16 << 10, 16 << 20));
    k.push_back({"uploads.holdLargeWhenMetered",
                 [](const json& v, Config& c) -> Result<void> {
                   if (!v.is_boolean())
                     return bad("uploads.holdLargeWhenMetered", std::string("must be true or false, not ") + v.type_name());
                   c.holdLargeUploadsWhenMetered = v.get<bool>();
                   return {};
                 },
                 "json"});
    k.push_back(bytes("uploads.largeUploadBytes", &Config::largeUploadBytes, 0, std::int64_t{1} << 40));
    k.push_back({"laborRates",
                 [](const json& v, Config& c) -> Result<void> {
                   if (!v.is_object())
                     return bad("laborRates", std::string("must be an object of rates, not ") + v.type_name());
                   c.laborRates.clear();
                   for (const auto& [type, rate] : v.items()) {
                     if (!rate.is_number() || rate.get<double>() < 0)
                       return bad("laborRates." + type, "must be a number >= 0");
                     c.laborRates[type] = rate.get<double>();
                   }
                   return {};
                 },
                 "json"});
    k.push_back(text("currency", &Config::currency, {}, true));
    k.push_back(seconds("slaRiskMarginSeconds", &Config::slaRiskMargin, 0, 7 * 86400));
    k.push_back(text("storage.durability", &Config::durability, {"full", "normal"}));
    return k;
  }();
  return all;
}

const Key* findKey(const std::string& path) {
  for (const auto& k : keys())
    if (k.path == path) return &k;
  return nullptr;
}

bool isSection(const std::string& path) {
  for (const auto& k : keys())
    if (k.path.rfind(path + ".", 0) == 0) return true;
  return false;
}

Result<void> applyObject(const json& object, const std::string& prefix, Config& config) {
  for (const auto& [name, value] : object.items()) {
    std::string path = prefix.empty() ? name : prefix + "." + name;
    if (const Key* key = findKey(path)) {
      if (auto ok = key->apply(value, config); !ok) return ok;
    } else if (isSection(path)) {
      if (!value.is_object()) return bad(path, std::string("must be an object, not ") + value.type_name());
      if (auto ok = applyObject(value, path, config); !ok) return ok;
    } else {
      return bad(path, "unknown key");
    }
  }
  return {};
}

std::string envName(const std::string& path) {
  std::string out = "FIELDAGENT_";
  for (char ch : path) out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

// Settings that are not keys of the file but are FIELDAGENT_* variables all the same.
const std::set<std::string> kOtherVariables = {"FIELDAGENT_CONFIG", "FIELDAGENT_API_URL", "FIELDAGENT_API_TOKEN"};

}  // namespace

std::filesystem::path Config::tokenFile() const {
  return localApiTokenFile.empty() ? dataDir / "api-token" : localApiTokenFile;
}

json Config::toJson(bool redactSecrets) const {
  auto secret = [&](const std::string& s) { return redactSecrets && !s.empty() ? std::string("***") : s; };
  return {{"upstream", {{"baseUrl", upstreamBaseUrl}, {"integrationToken", secret(upstreamIntegrationToken)}}},
          {"tls", {{"caBundle", tlsCaBundle}, {"pins", tlsPins}}},
          {"tenant", tenant},
          {"mfaMethod", mfaMethod},
          {"dataDir", dataDir.string()},
          {"localApi",
           {{"bind", localApiBind},
            {"port", localApiPort},
            {"token", secret(localApiToken)},
            {"tokenFile", localApiTokenFile.string()},
            {"maxConnections", localApiMaxConnections}}},
          {"sync", {{"pullIntervalSeconds", pullInterval.count()}, {"pushIntervalSeconds", pushInterval.count()}}},
          {"log", {{"level", logLevel}, {"sink", logSink}}},
          {"attachments", {{"quotaBytes", attachmentQuotaBytes}, {"maxBytes", attachmentMaxBytes}}},
          {"uploads",
           {{"chunkBytes", uploadChunkBytes},
            {"holdLargeWhenMetered", holdLargeUploadsWhenMetered},
            {"largeUploadBytes", largeUploadBytes}}},
          {"laborRates", laborRates},
          {"currency", currency},
          {"slaRiskMarginSeconds", slaRiskMargin.count()},
          {"storage", {{"durability", durability}}}};
}

Result<Config> loadConfig(const std::filesystem::path& file, const std::map<std::string, std::string>& environment) {
  Config config;
  if (!file.empty()) {
    auto textOrError = platform::fs::readFile(file, 1 << 20);
    if (!textOrError) return makeError("config", file.string() + ": cannot read: " + textOrError.error().message);
    json doc = json::parse(*textOrError, nullptr, false);
    if (doc.is_discarded()) return makeError("config", file.string() + ": not valid JSON");
    if (!doc.is_object()) return makeError("config", file.string() + ": must hold a JSON object");
    if (auto ok = applyObject(doc, "", config); !ok)
      return makeError("config", file.string() + ": " + ok.error().message);
  }
  for (const auto& [name, value] : environment) {
    if (name.rfind("FIELDAGENT_", 0) != 0 || kOtherVariables.count(name)) continue;
    const Key* key = nullptr;
    for (const auto& k : keys())
      if (envName(k.path) == name) key = &k;
    if (!key) return makeError("config", "environment " + name + ": unknown setting");
    json v;
    if (key->kind == "string") {
      v = value;
      // The settings are printed and sent upstream as JSON, which holds UTF-8 only: a value
      // that is not would make dump() throw later (found by fuzzing).
      try {
        (void)v.dump();
      } catch (const json::exception&) {
        return makeError("config", "environment " + name + " (" + key->path + "): not valid UTF-8");
      }
    } else {
      v = json::parse(value, nullptr, false);
      if (v.is_discarded()) return makeError("config", "environment " + name + " (" + key->path + "): not valid JSON");
    }
    if (auto ok = key->apply(v, config); !ok)
      return makeError("config", "environment " + name + " (" + ok.error().message + ")");
  }
  if (config.localApiBind != "127.0.0.1" && config.localApiBind != "::1" && config.localApiBind != "localhost")
    return makeError("config",
                     "localApi.bind: \"" + config.localApiBind +
                         "\" is not a loopback address; the local API serves plain HTTP and binds loopback only");
  if (config.attachmentMaxBytes > config.attachmentQuotaBytes)
    return makeError("config", "attachments.maxBytes: larger than attachments.quotaBytes");
  return config;
}

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq != std::string::npos && entry.rfind("FIELDAGENT_", 0) == 0) out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

}  // namespace fieldagent::agent
