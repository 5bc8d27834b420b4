// The agent's sync components as `fieldagent run` wires them (store, secrets, upstream client,
// session, puller, capture, pusher with the uploader), in a process of its own so the crash
// suite can SIGKILL it anywhere. One mode per run:
//   crash_agent_driver capture|pull|push DATA KEYFILE BASE_URL INTEGRATION_TOKEN TENANT ROUND
// capture: offline, records notes, labour and photos on the en-route work orders for ever,
//          printing "A ..." once each capture has returned (the agent would answer 202 now);
// photos:  the same with photos only;
// pull:    one pull (a prime while no checkpoint is stored), then "DONE";
// push:    drains the outbox (moving its clock past back-offs) until nothing is left, then "DONE".
// Every request is traced: "S <class>" before it goes out, "R <class>" after its answer, with
// class pull, push or upload. Every line is one write(2), so nothing waits in a buffer at a kill.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "child_process_io.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/storage/secrets.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/puller.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/uploader.hpp"

using namespace fieldagent;

namespace {

void say(const std::string& line) { testing::writeLine(line); }
[[noreturn]] void die(const std::string& what, const Error& e) { testing::dieWith("crash_agent_driver", what, e); }

bool isUpload(const std::string& url) {
  return url.find("/attachments") != std::string::npos || url.find("/uploads") != std::string::npos ||
         url.find("/upload-url") != std::string::npos || url.find("/tus") != std::string::npos;
}

class TracingExchange final : public platform::HttpExchange {
 public:
  explicit TracingExchange(std::string mode) : mode_(std::move(mode)) {}
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    const std::string cls = mode_ == "pull" ? "pull" : isUpload(request.url) ? "upload" : "push";
    say("S " + cls + "\n");
    auto r = inner_.exchange(request);
    say("R " + cls + "\n");
    return r;
  }

 private:
  std::string mode_;
  platform::PocoHttpExchange inner_;
};

// Deterministic photo bytes for capture k of a round.
class PhotoSource {
 public:
  PhotoSource(std::uint64_t size, std::uint64_t seed) : left_(size), state_(seed) {}
  Result<std::size_t> operator()(char* buffer, std::size_t room) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(room, left_));
    for (std::size_t i = 0; i < n; ++i) {
      state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
      buffer[i] = static_cast<char>(state_ >> 56);
    }
    hash_.update(std::string_view(buffer, n));
    left_ -= n;
    return n;
  }
  std::string sha256Hex() { return platform::hexEncode(hash_.finish()); }

 private:
  std::uint64_t left_;
  std::uint64_t state_;
  platform::Sha256 hash_;
};

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (argc != 8) {
    std::cerr << "usage: crash_agent_driver capture|photos|pull|push DATA KEYFILE BASE_URL INTEGRATION_TOKEN TENANT ROUND\n";
    return 2;
  }
  const std::string mode = argv[1];
  const std::filesystem::path data = argv[2];
  const long round = std::stol(argv[7]);
  platform::SystemClock system;
  platform::FakeClock clock(system.now());
  platform::FileKeyStore keys(argv[3], platform::systemEntropy());
  auto store = storage::Store::open({data}, clock, platform::systemEntropy(), keys);
  if (!store) die("store", store.error());
  auto secrets = storage::SecretStore::open(data / "secrets.bin", keys, platform::systemEntropy());
  if (!secrets) die("secrets", secrets.error());
  TracingExchange http(mode);
  sync::UpstreamClient client({argv[4], argv[5]}, http, clock);
  sync::SessionManager session(client, **secrets, clock, {argv[6], "totp"});
  client.setTokenSource(&session);
  session.restore();

  if (mode == "capture" || mode == "photos") {
    const bool photosOnly = mode == "photos";
    // Offline: the session is only read for the technician and van.
    sync::Capture capture(**store, session, clock);
    std::vector<std::string> targets;
    for (const auto& id : (*store)->workOrders().workOrderIds().value()) {
      auto wo = (*store)->workOrders().workOrder(id);
      if (wo && wo->doc.value("status", "") == "en_route") targets.push_back(id);
    }
    if (targets.empty()) die("capture", makeError("not_found", "no en-route work order cached"));
    for (long k = 0;; ++k) {
      const std::string& wo = targets[static_cast<std::size_t>(k) % targets.size()];
      const std::string tag = "crash-r" + std::to_string(round) + "-k" + std::to_string(k);
      std::string line;
      switch (photosOnly ? 3 : k % 4) {
        case 0:
        case 2: {
          auto c = capture.addNote(wo, {{"text", tag}});
          if (!c) die("note", c.error());
          line = "A note " + std::to_string(c->operations.at(0).id) + " " + wo + " " + tag;
          break;
        }
        case 1: {
          auto c = capture.recordConsumption(
              wo, {{"labor", {{{"laborType", "regular"}, {"hours", 0.25}, {"notes", tag}}}}});
          if (!c) die("consumption", c.error());
          line = "A consumption " + std::to_string(c->operations.at(0).id) + " " + wo + " " + tag;
          break;
        }
        default: {
          // 200-700 KB: several tus chunks each, so uploads can be cut between them.
          const std::uint64_t size = 200'000 + static_cast<std::uint64_t>((k * 7919 + round * 104729) % 500'000);
          PhotoSource source(size, static_cast<std::uint64_t>(round * 100003 + k));
          storage::AttachmentSpec spec{wo, "photo", tag + ".jpg", "image/jpeg", std::nullopt};
          auto c = sync::captureAttachment(**store, capture, spec, std::ref(source), {8u << 20, 64u << 10});
          if (!c) die("photo", c.error());
          line = "A photo " + std::to_string(c->operations.at(0).id) + " " + wo + " " + tag + " " +
                 c->detail["attachmentId"].get<std::string>() + " " + source.sha256Hex();
        }
      }
      say(line + "\n");
    }
  }

  if (session.status().state != sync::SessionState::active) {
    if (auto r = session.signIn(); !r) die("sign-in", r.error());
  }
  if (mode == "pull") {
    sync::Puller puller(client, **store, session, clock);
    auto report = puller.pull();
    if (!report) die("pull", report.error());
    say("DONE pull prime=" + std::to_string(report->prime) + " stored=" + std::to_string(report->workOrdersStored) +
        "\n");
    return 0;
  }
  if (mode == "push") {
    sync::Pusher pusher(client, **store, session, clock, platform::systemEntropy(), {2, 16, 2});
    sync::UploadSettings settings;
    settings.chunkBytes = 128u << 10;
    sync::Uploader uploader(client, **store, clock, nullptr, settings);
    uploader.attachTo(pusher);
    int done = 0;
    for (int pass = 0; pass < 40; ++pass) {
      auto report = pusher.drain();
      if (!report) die("push", report.error());
      done += report->done;
      auto counts = (*store)->outbox().outboxCounts();
      if (!counts) die("counts", counts.error());
      if (counts->byState[storage::OpState::pending] + counts->byState[storage::OpState::in_flight] == 0) {
        say("DONE push done=" + std::to_string(done) + "\n");
        return 0;
      }
      clock.advance(std::chrono::minutes{15});  // past any back-off
    }
    die("push", makeError("internal", "the outbox did not drain in 40 passes"));
  }
  std::cerr << "crash_agent_driver: unknown mode " << mode << "\n";
  return 2;
}
