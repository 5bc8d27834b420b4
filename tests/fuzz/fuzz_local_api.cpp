// Fuzz target: the agent's local REST API as the apps reach it: request line, method, path and
// query, headers (Authorization, Idempotency-Key, Content-Type, multipart boundaries) and body,
// through the same token check, routing and JSON body checks as the server
// (agent::LocalApi::handle), against a real agent on a SQLite store in a scratch folder.
//
// Input: one raw HTTP/1.1 request, e.g.
//   POST /work-orders/WO-1/notes HTTP/1.1\r\nAuthorization: Bearer fuzz-token-0123456789abcdef\r\n
//   Content-Type: application/json\r\n\r\n{"text":"replaced the filter"}
//
// The store is set up once per process (a signed-in technician, one work order, reference data
// and van stock) and keeps what the requests write, as the real agent does.
#include <memory>

#include "fieldagent/agent/agent.hpp"
#include "fieldagent/agent/local_api.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fuzz_support.hpp"

using namespace fieldagent;
using nlohmann::json;

namespace {

constexpr const char* kToken = "fuzz-token-0123456789abcdef";

// Upstream as far as the setup needs it: a sign-in that succeeds; everything else is offline,
// so writes stay in the outbox.
class SignInOnly final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    if (request.method == "POST" && request.url.find("/sessions") != std::string::npos) {
      json grant = {{"authToken", "upstream-token"},
                    {"expiresIn", 86400 * 365},
                    {"user",
                     {{"id", "U-1"},
                      {"name", "Field Tech"},
                      {"technicianId", "T-1"},
                      {"entitlements", {"workOrders", "inventory", "dispatch", "attachments"}}}}};
      return platform::HttpResponse{201, "Created", {{"Content-Type", "application/json"}}, grant.dump()};
    }
    return makeError("transport_failed", request.method + " " + request.url + ": offline");
  }
};

struct World {
  fuzz::ScratchCleanup cleanup{fuzz::scratchDir("local-api")};
  platform::FakeClock clock;
  platform::FakeConnectivity connectivity{{false, false, ""}};
  fuzz::CountingEntropy entropy;
  std::unique_ptr<agent::Agent> agent;
  std::unique_ptr<agent::LocalApi> api;

  World() {
    agent::Config config;
    config.dataDir = cleanup.dir / "data";
    config.durability = "normal";
    config.mfaMethod = "none";
    config.localApiToken = kToken;
    config.upstreamBaseUrl = "http://upstream.invalid/integrations/int_1";
    config.attachmentMaxBytes = 64 * 1024;
    config.attachmentQuotaBytes = 64ull << 20;
    config.laborRates = {{"standard", 95.0}, {"overtime", 140.0}};
    auto opened = agent::Agent::open(config, clock, connectivity, entropy, std::make_unique<SignInOnly>());
    FUZZ_CHECK(opened.ok());
    agent = std::move(opened).value();
    auto& store = agent->localApiContext().store;
    FUZZ_CHECK(store
                   .workOrders().upsertWorkOrder({{{"workOrderId", "WO-1"},
                                      {"status", "scheduled"},
                                      {"customerId", "C-1"},
                                      {"siteId", "S-1"},
                                      {"assetId", "A-1"},
                                      {"technicianId", "T-1"},
                                      {"slaDueAt", "2027-01-21T13:00:00Z"},
                                      {"updatedAt", "2026-11-20T08:00:00Z"},
                                      {"checklist", {{{"itemId", "CL-1"}, {"text", "Filter"}, {"answer", nullptr}}}}},
                                     "\"1\""})
                   .ok());
    FUZZ_CHECK(store.referenceData().upsertReference(storage::ReferenceKind::customer, {{{"customerId", "C-1"}, {"name", "Acme"}}}).ok());
    FUZZ_CHECK(store.referenceData().upsertReference(storage::ReferenceKind::technician,
                                     {{{"technicianId", "T-1"}, {"vanWarehouseId", "VAN-1"}}})
                   .ok());
    FUZZ_CHECK(store.referenceData().upsertReference(storage::ReferenceKind::part, {{{"partNumber", "P-1"}, {"unitPrice", 12.5}}}).ok());
    FUZZ_CHECK(store.referenceData().upsertStock({{{"warehouseId", "VAN-1"}, {"partNumber", "P-1"}, {"quantityOnHand", 5}}}).ok());
    FUZZ_CHECK(agent->storeCredentials("tech", "password-1", "").ok());
    // One round online signs the technician in (the pull after it fails: upstream is offline).
    connectivity.set({true, false, "wlan0"});
    agent->runRound();
    connectivity.set({false, false, ""});
    FUZZ_CHECK(agent->status()["session"]["state"] == "active");
    // No client stays on GET /agent/events: the bus is closed, so a stream ends at once.
    agent->localApiContext().events.close();
    api = agent::LocalApi::detached(*agent, kToken);
  }
};

World* world = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quietLogs();
  world = new World();  // lives as long as the process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(fuzz::asText(data, size));
  auto reply = world->api->handle(raw);
  if (!reply) {
    FUZZ_CHECK(reply.error().code == "bad_request");  // Poco refused the request line or headers
    return 0;
  }
  FUZZ_CHECK(reply->status >= 200 && reply->status <= 599);
  // Without the token nothing is served (the substring test errs towards "had the token").
  // Poco decodes RFC 2047 encoded words ("=?charset?B?...?=") in header values, so
  // "Authorization: Beare=?r <token>" reaches the server as "Bearer <token>" (fuzz find 14),
  // and an encoded word can spell the token in other bytes: an input with "=?" may carry it.
  const bool mayCarryToken =
      raw.find(std::string("Bearer ") + kToken) != std::string::npos || raw.find("=?") != std::string::npos;
  if (!mayCarryToken) FUZZ_CHECK(reply->status == 401);
  if (reply->contentType == "application/json") {
    const json body = json::parse(reply->body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded());
    if (reply->status >= 400) {
      // Every refusal says what and why.
      FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_string());
      FUZZ_CHECK(body.contains("message") && body["message"].is_string());
      // ...with a code of the one table, answered with that code's status.
      const auto code = ErrorCode::parse(body["error"].get<std::string>());
      FUZZ_CHECK(code.has_value());
      FUZZ_CHECK(reply->status == code->httpStatus());
    }
    // A 500 is a bug of ours, not an answer to bad input.
    if (reply->status == 500) std::fprintf(stderr, "500: %s\n", reply->body.c_str());
    FUZZ_CHECK(reply->status != 500);
  }
  return 0;
}
