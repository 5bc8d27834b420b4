#pragma once
// The sync layer wired as the agent wires it (the same parts as tests/sync/sync_fixture.hpp,
// without Catch): a real store and secret file in a temp folder, the real HTTP exchange (with a
// hook that can record every request), the system clock, signed in as the TOTP technician of a
// real alliance-sim on loopback.
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>

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

namespace fieldagent::bench {

// Hands every request to `observe` (when set) before sending it. An observer, not a list: the
// prime benchmark measures the peak memory of its process, which must not grow with a copy of
// every request.
class RecordingExchange final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    if (observe) {
      std::lock_guard lock(mutex);
      observe(request);
    }
    return inner.exchange(request);
  }
  std::function<void(const platform::HttpRequest&)> observe;
  std::mutex mutex;
  platform::PocoHttpExchange inner;
};

template <class T>
T must(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().describe());
  return std::move(r).value();
}

inline void must(Result<void> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().describe());
}

struct SyncRig {
  explicit SyncRig(const std::vector<std::string>& simArgs,
                   storage::Durability durability = storage::Durability::full)
      : sim(simArgs),
        keys(dir / "keys" / "data.key", platform::systemEntropy()),
        store(must(storage::Store::open({dir / "data", storage::tuning::kDefaultAttachmentQuotaBytes, durability},
                                        clock, platform::systemEntropy(), keys),
                   "store")),
        secrets(must(storage::SecretStore::open(dir / "data" / "secrets.bin", keys, platform::systemEntropy()),
                     "secrets")),
        client({sim.baseUrl(), sim.integrationToken()}, http, clock) {
    const auto& user = technician();
    must(secrets->put(storage::secret::kUsername, user.username), "username");
    must(secrets->put(storage::secret::kPassword, user.password), "password");
    must(secrets->put(storage::secret::kTotpSecret, user.totpSecret), "totp secret");
    session = std::make_unique<sync::SessionManager>(client, *secrets, clock,
                                                     sync::SessionSettings{user.tenant, user.mfa});
    client.setTokenSource(session.get());
    must(session->signIn(), "sign-in");
  }

  const testing::SimUser& technician() const { return sim.technicianUser("totp"); }

  testing::SimProcess sim;
  testing::TempDir dir;
  platform::SystemClock clock;
  platform::FileKeyStore keys;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::SecretStore> secrets;
  RecordingExchange http;
  sync::UpstreamClient client;
  std::unique_ptr<sync::SessionManager> session;
};

}  // namespace fieldagent::bench
