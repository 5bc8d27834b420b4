// Secrets stay secret: a technician's whole day through `fieldagent run` with logging at
// trace, then every log line, stdout, the API's answers and every file of the data folder
// (database, WAL, secrets, attachments, token and idempotency files) are searched for the
// password, the TOTP secret, the session tokens, the integration token and signed upload URL
// signatures. And the local API's door: no token, no answer; no path out of the data folder
// through an attachment's name.
#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>
#include <set>

#include "agent_process.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"

using namespace fieldagent::testing;
using namespace fieldagent;
using nlohmann::json;

namespace {

struct Place {
  std::string name;
  std::string text;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Where `secret` shows up among `places` (case-insensitive), as "place" names.
std::vector<std::string> findings(const std::vector<Place>& places, const std::string& secret) {
  std::vector<std::string> out;
  const std::string needle = lower(secret);
  for (const auto& p : places)
    if (lower(p.text).find(needle) != std::string::npos) out.push_back(p.name);
  return out;
}

}  // namespace

TEST_CASE("a technician's day at log level trace leaves no secret in logs or answers or data files", "[secrets][agent]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto data = dir / "data";
  const auto logFile = dir / "agent-stderr.txt";
  std::vector<Place> places;
  std::set<std::string> sessionTokens;
  auto keepAnswer = [&](const std::string& what, const HttpResponse& r) {
    std::string text = r.body;
    for (const auto& [k, v] : r.headers) text += "\n" + k + ": " + v;
    places.push_back({"answer to " + what, text});
  };
  int photosBefore = 0;
  {
    AgentProcess agent(writeAgentConfig(dir / "config.json", sim, user.tenant, data, {{"log", {{"level", "trace"}}}}),
                       logFile);
    signInAndPrime(agent, user);
    auto scheduled = agent.call("GET", "/work-orders?status=scheduled&pageSize=200").json();
    REQUIRE(scheduled["items"].size() >= 1);
    const std::string wo = scheduled["items"][0]["workOrderId"];
    photosBefore = sim.admin("GET", "/effects?workOrderId=" + wo).json()["attachmentsAvailable"].get<int>();
    for (const char* s : {"en_route", "on_site"})
      REQUIRE(agent.call("POST", "/work-orders/" + wo + "/status", json{{"status", s}}.dump()).status == 202);
    REQUIRE(agent.call("POST", "/work-orders/" + wo + "/notes", json{{"text", "replaced the filter"}}.dump()).status ==
            202);
    auto photo = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=meter.jpg",
                            std::string(300'000, 'm'), {{"Content-Type", "image/jpeg"}});
    REQUIRE(photo.status == 202);
    auto sig = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=signature&fileName=sig.png",
                          std::string(5'000, 's'), {{"Content-Type", "image/png"}});
    REQUIRE(sig.status == 202);
    auto consumption = agent.call(
        "POST", "/work-orders/" + wo + "/consumptions",
        json{{"labor", {{{"laborType", "standard"}, {"hours", 1.0}}}},
             {"customerSignature",
              {{"name", "Pat"}, {"signedAt", "2026-01-01T09:35:00Z"}, {"signatureToken", sig.json()["signatureToken"]}}}}
            .dump());
    REQUIRE(consumption.status == 202);
    REQUIRE(agent.call("POST", "/agent/sync").status == 202);
    auto drained = [](const json& s) {
      return s["outbox"]["pending"] == 0 && s["outbox"]["in_flight"] == 0 && s["outbox"]["done"].get<int>() >= 6;
    };
    agent.waitForStatus(drained, "the day's work to be pushed");
    {
      platform::FileKeyStore keys(data / "keys" / "data.key", platform::systemEntropy());
      auto secrets = storage::SecretStore::open(data / "secrets.bin", keys, platform::systemEntropy()).value();
      sessionTokens.insert(secrets->get(storage::secret::kSessionToken).value().value());
    }

    // Upstream revokes the session: the agent signs in again (password and a fresh TOTP code)
    // and goes on with the afternoon's work.
    REQUIRE(sim.admin("POST", "/sessions/revoke", json::object()).status == 200);
    REQUIRE(agent.call("POST", "/work-orders/" + wo + "/notes", json{{"text", "came back after lunch"}}.dump()).status ==
            202);
    REQUIRE(agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=b.jpg",
                       std::string(150'000, 'b'), {{"Content-Type", "image/jpeg"}})
                .status == 202);
    REQUIRE(agent.call("POST", "/agent/sync").status == 202);
    agent.waitForStatus(
        [](const json& s) {
          return s["session"]["state"] == "active" && s["outbox"]["pending"] == 0 && s["outbox"]["in_flight"] == 0 &&
                 s["outbox"]["done"].get<int>() >= 8;
        },
        "the afternoon's work after the revocation");
    CHECK(sim.admin("GET", "/effects?workOrderId=" + wo).json()["attachmentsAvailable"] == photosBefore + 3);

    for (const std::string& path :
         std::vector<std::string>{"/agent/status", "/agent/outbox?limit=1000", "/metrics", "/work-orders/" + wo,
                                  "/work-orders/" + wo + "/attachments", "/agent/conflicts", "/health"})
      keepAnswer(path, agent.call("GET", path));
    CHECK(agent.stop() == 0);
    places.push_back({"stdout", agent.stdoutText()});
  }
  {
    platform::FileKeyStore keys(data / "keys" / "data.key", platform::systemEntropy());
    auto secrets = storage::SecretStore::open(data / "secrets.bin", keys, platform::systemEntropy()).value();
    sessionTokens.insert(secrets->get(storage::secret::kSessionToken).value().value());
  }
  REQUIRE(sessionTokens.size() == 2);  // one before the revocation, one after

  const std::string log = readText(logFile);
  places.push_back({"log (stderr)", log});
  std::size_t dataFiles = 0, dataBytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(data)) {
    if (!e.is_regular_file()) continue;
    places.push_back({e.path().string(), readText(e.path())});
    ++dataFiles;
    dataBytes += places.back().text.size();
  }
  // The log was written (the sign-ins are in it) at the most verbose level there is.
  std::size_t lines = static_cast<std::size_t>(std::count(log.begin(), log.end(), '\n'));
  INFO("log:\n" << log);
  REQUIRE(log.find("signed in as") != std::string::npos);

  struct Secret {
    std::string what, value;
  };
  std::vector<Secret> secrets = {{"password", user.password},
                                 {"TOTP secret", user.totpSecret},
                                 {"integration token", sim.integrationToken()}};
  for (const auto& t : sessionTokens) secrets.push_back({"session token", t});
  for (const auto& s : secrets) {
    INFO(s.what);
    REQUIRE(s.value.size() >= 8);
    CHECK(findings(places, s.value) == std::vector<std::string>{});
  }
  // Signed URLs (uploads and downloads) carry an HMAC in "signature=": never written down.
  const std::regex signature("signature=[0-9a-fA-F]{16,}");
  std::vector<std::string> signed_;
  for (const auto& p : places)
    if (std::regex_search(p.text, signature)) signed_.push_back(p.name);
  CHECK(signed_ == std::vector<std::string>{});
  WARN("log at trace:\n" << log);
  WARN("secrets scan: " << lines << " log lines at trace, " << dataFiles << " data files (" << dataBytes
                        << " bytes), " << places.size() << " places in all, " << secrets.size()
                        << " secret values and the signed-URL pattern: none found");
}

TEST_CASE("the local API refuses requests without its token and attachment names that leave the folder",
          "[secrets][agent]") {
  SimProcess sim({"--seed", "20"});
  TempDir dir;
  const auto& user = sim.technicianUser("totp");
  const auto data = dir / "data";
  AgentProcess agent(writeAgentConfig(dir / "config.json", sim, user.tenant, data), dir / "agent-stderr.txt");
  signInAndPrime(agent, user);
  auto scheduled = agent.call("GET", "/work-orders?status=scheduled").json();
  REQUIRE(scheduled["items"].size() >= 1);
  const std::string wo = scheduled["items"][0]["workOrderId"];

  // Without the right bearer token, every route answers 401 and writes nothing.
  struct Route {
    std::string method, path, body;
  };
  const std::vector<Route> routes = {
      {"GET", "/health", ""},
      {"GET", "/metrics", ""},
      {"GET", "/agent/status", ""},
      {"GET", "/agent/events", ""},
      {"GET", "/work-orders", ""},
      {"GET", "/work-orders/" + wo, ""},
      {"POST", "/work-orders/" + wo + "/notes", json{{"text", "no token"}}.dump()},
      {"POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=a.jpg", "bytes"},
      {"POST", "/agent/credentials", json{{"username", "x"}, {"password", "y"}}.dump()},
      {"POST", "/agent/sync", ""},
      {"GET", "/no/such/route", ""}};
  const std::vector<std::map<std::string, std::string>> doors = {
      {{"Authorization", ""}},
      {{"Authorization", "Bearer"}},
      {{"Authorization", "Bearer "}},
      {{"Authorization", "Bearer wrong-token-of-some-length"}},
      {{"Authorization", "Bearer " + agent.token() + "x"}},
      {{"Authorization", "Bearer " + agent.token().substr(0, agent.token().size() - 1)}},
      {{"Authorization", "Basic " + agent.token()}},
      {{"Authorization", "bearer" + agent.token()}},
      {{"Authorization", ""}, {"X-Api-Token", agent.token()}}};
  int refused = 0;
  for (const auto& r : routes) {
    for (const auto& headers : doors) {
      auto answer = agent.call(r.method, r.path, r.body, headers);
      INFO(r.method << " " << r.path << " with " << (headers.begin()->second));
      CHECK(answer.status == 401);
      CHECK(answer.json()["error"] == "unauthorized");
      ++refused;
    }
    // The token in the query string is not a token.
    auto inQuery = agent.call(r.method, r.path + (r.path.find('?') == std::string::npos ? "?" : "&") +
                                            "token=" + agent.token() + "&access_token=" + agent.token(),
                              r.body, {{"Authorization", ""}});
    CHECK(inQuery.status == 401);
    ++refused;
  }
  CHECK(agent.call("GET", "/agent/outbox?workOrderId=" + wo).json()["items"].empty());

  // Attachment names that would leave the attachments folder (or confuse a later download)
  // are refused with 400 before anything is stored.
  const std::vector<std::string> names = {"../x.jpg",          "..%2Fx.jpg",          "%2e%2e%2fx.jpg",
                                          "%2E%2E/%2E%2E/etc/passwd", "/etc/passwd",  "%2Fetc%2Fpasswd",
                                          "..",                "%2e%2e",              ".",
                                          "a%00b.jpg",         "a.jpg%00.png",        "..%5Cx.jpg",
                                          "sub/dir.jpg",       "a%0Ab.jpg"};
  int traversals = 0;
  for (const auto& name : names) {
    auto raw = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=" + name, "photo bytes",
                          {{"Content-Type", "image/jpeg"}});
    INFO("fileName=" << name << ": " << raw.body);
    CHECK(raw.status == 400);
    CHECK(raw.json()["error"] == "invalid");
    ++traversals;
  }
  // The same names through a multipart form, as field and as the file part's filename.
  for (const std::string& name :
       std::vector<std::string>{"../x.jpg", "/etc/passwd", "..", std::string("a\0b.jpg", 7),
                                "..\\\\x.jpg" /* a quoted-string escape: the name is ..\x.jpg */}) {
    const std::string b = "BoUnDaRy";
    std::string form = "--" + b + "\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nphoto\r\n--" + b +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
                       "\"\r\nContent-Type: image/jpeg\r\n\r\nPHOTO\r\n--" + b + "--\r\n";
    auto viaFilename = agent.call("POST", "/work-orders/" + wo + "/attachments", form,
                                  {{"Content-Type", "multipart/form-data; boundary=" + b}});
    INFO("multipart filename " << name << ": " << viaFilename.body);
    CHECK(viaFilename.status == 400);
    ++traversals;
    std::string form2 = "--" + b + "\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nphoto\r\n--" + b +
                        "\r\nContent-Disposition: form-data; name=\"fileName\"\r\n\r\n" + name + "\r\n--" + b +
                        "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ok.jpg\"\r\n"
                        "Content-Type: image/jpeg\r\n\r\nPHOTO\r\n--" + b + "--\r\n";
    auto viaField = agent.call("POST", "/work-orders/" + wo + "/attachments", form2,
                               {{"Content-Type", "multipart/form-data; boundary=" + b}});
    INFO("multipart fileName field " << name << ": " << viaField.body);
    CHECK(viaField.status == 400);
    ++traversals;
  }
  // A work-order id that tries to climb is just an unknown work order.
  for (const std::string id : {"..", "..%2F..%2Fetc", "%2e%2e"}) {
    auto r = agent.call("POST", "/work-orders/" + id + "/attachments?kind=photo&fileName=a.jpg", "x",
                        {{"Content-Type", "image/jpeg"}});
    INFO("work order " << id << ": " << r.body);
    CHECK(r.status == 404);
  }
  // Nothing was stored, inside the folder or beside it; a plain name still works.
  CHECK(agent.call("GET", "/work-orders/" + wo + "/attachments").json()["items"].empty());
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(data / "attachments")) {
    (void)e;
    ++files;
  }
  CHECK(files == 0);
  CHECK_FALSE(std::filesystem::exists(data / "x.jpg"));
  CHECK_FALSE(std::filesystem::exists(dir / "x.jpg"));
  auto good = agent.call("POST", "/work-orders/" + wo + "/attachments?kind=photo&fileName=meter%20reading.jpg",
                         "photo bytes", {{"Content-Type", "image/jpeg"}});
  CHECK(good.status == 202);
  CHECK(agent.stop() == 0);
  WARN("local API: " << refused << " requests without a valid token refused with 401; " << traversals
                     << " attachment names that climb, are absolute or carry NUL/control characters refused with 400");
}
