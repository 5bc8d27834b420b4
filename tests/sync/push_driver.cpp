// The pusher as the agent runs it, in a process of its own so a test can SIGKILL it at any
// moment: opens the store and secrets in DATA, restores the session and drains the outbox
// until nothing is left, printing "S" before every request it sends and "R" after every answer.
//   push_driver DATA KEYFILE BASE_URL INTEGRATION_TOKEN TENANT
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/session.hpp"

using namespace fieldagent;

namespace {
class TracingExchange final : public platform::HttpExchange {
 public:
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    std::fputs("S\n", stdout);
    std::fflush(stdout);
    auto r = inner_.exchange(request);
    std::fputs("R\n", stdout);
    std::fflush(stdout);
    return r;
  }

 private:
  platform::PocoHttpExchange inner_;
};
}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (argc != 6) {
    std::cerr << "usage: push_driver DATA KEYFILE BASE_URL INTEGRATION_TOKEN TENANT\n";
    return 2;
  }
  platform::SystemClock clock;
  platform::FileKeyStore keys(argv[2], platform::systemEntropy());
  auto store = storage::Store::open({argv[1]}, clock, platform::systemEntropy(), keys);
  if (!store) {
    std::cerr << "push_driver: " << store.error().message << "\n";
    return 3;
  }
  auto secrets = storage::SecretStore::open(std::filesystem::path(argv[1]) / "secrets.bin", keys,
                                            platform::systemEntropy());
  if (!secrets) {
    std::cerr << "push_driver: " << secrets.error().message << "\n";
    return 3;
  }
  TracingExchange http;
  sync::UpstreamClient client({argv[3], argv[4]}, http, clock);
  sync::SessionManager session(client, **secrets, clock, {argv[5], "totp"});
  client.setTokenSource(&session);
  if (session.restore() != sync::SessionState::active) {
    if (auto r = session.signIn(); !r) {
      std::cerr << "push_driver: " << r.error().message << "\n";
      return 4;
    }
  }
  sync::Pusher pusher(client, **store, session, clock, platform::systemEntropy(), {2, 16, 2});
  auto report = pusher.drain();
  if (!report) {
    std::cerr << "push_driver: " << report.error().message << "\n";
    return 5;
  }
  std::cout << "DONE " << report->done << "\n";
  return 0;
}
