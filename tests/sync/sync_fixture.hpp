#pragma once
// The sync layer wired as the agent wires it, against a real alliance-sim on loopback: a real
// store and secret file in a temp folder, the real HTTP exchange, a fake clock started at the
// real time (the simulator keeps real time unless told otherwise).
#include <functional>
#include <memory>
#include <optional>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/puller.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/upstream_client.hpp"
#include "sim_process.hpp"
#include "temp_dir.hpp"

namespace fieldagent::testing {

// The real exchange with a hook a test can set to act before a request goes out (revoke the
// session after the tenth call, count bytes, ...).
class HookedExchange final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    if (before) before(request);
    if (refuse) {
      if (auto error = refuse(request)) return *error;
    }
    return inner.exchange(request);
  }
  std::function<void(const platform::HttpRequest&)> before;
  // Set: the failure the transport reports instead of sending (a refused certificate, ...).
  std::function<std::optional<Error>(const platform::HttpRequest&)> refuse;
  platform::PocoHttpExchange inner;
};

struct SyncFixture {
  explicit SyncFixture(const std::vector<std::string>& simArgs = {})
      : sim(simArgs),
        clock(platform::SystemClock().now()),
        keys(dir / "keys" / "data.key", platform::systemEntropy()),
        store(storage::Store::open({dir / "data"}, clock, platform::systemEntropy(), keys).value()),
        secrets(storage::SecretStore::open(dir / "data" / "secrets.bin", keys, platform::systemEntropy()).value()),
        client({sim.baseUrl(), sim.integrationToken()}, http, clock) {}

  // Stores `user`'s credentials as the agent's set-up would, and makes a session manager for
  // the method it uses.
  sync::SessionManager& as(const SimUser& user) {
    REQUIRE(secrets->put(storage::secret::kUsername, user.username).ok());
    REQUIRE(secrets->put(storage::secret::kPassword, user.password).ok());
    if (!user.totpSecret.empty()) REQUIRE(secrets->put(storage::secret::kTotpSecret, user.totpSecret).ok());
    session = std::make_unique<sync::SessionManager>(
        client, *secrets, clock, sync::SessionSettings{user.tenant, user.mfa == "none" ? "" : user.mfa});
    client.setTokenSource(session.get());
    return *session;
  }

  // Signs in as the TOTP technician and returns the puller.
  sync::Puller& puller(sync::PullOptions options = {}) {
    auto& s = as(technician());
    REQUIRE(s.signIn().ok());
    pull = std::make_unique<sync::Puller>(client, *store, s, clock, options);
    return *pull;
  }

  const SimUser& technician() const {
    for (const auto& u : sim.users()) {
      if (u.technicianId && u.mfa == "totp") return u;
    }
    throw std::runtime_error("the simulator has no TOTP technician");
  }

  SimProcess sim;
  TempDir dir;
  platform::FakeClock clock;
  platform::FileKeyStore keys;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::SecretStore> secrets;
  HookedExchange http;
  sync::UpstreamClient client;
  std::unique_ptr<sync::SessionManager> session;
  std::unique_ptr<sync::Puller> pull;
};

}  // namespace fieldagent::testing
