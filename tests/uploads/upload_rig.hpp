#pragma once
// The uploader wired as the agent wires it (store, capture, pusher, uploader) against a real
// alliance-sim, with a tap on the HTTP exchange that counts what the uploader sends and can
// cut or damage a request the way a flaky link does.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/uploader.hpp"
#include "sync_fixture.hpp"

namespace fieldagent::testing {

// What the tap does with one request: pass it, cut it after `keepBytes` of its body went out
// (the server sees a short request and the client a dead connection), cut the answer after
// the whole request went out, flip one byte of the body (the checksum header stays), or answer
// a bare 403 (no body, as to a HEAD) without sending anything.
struct TapAction {
  enum Kind { pass, cutBody, cutAnswer, flipByte, bareForbidden } kind = pass;
  std::size_t keepBytes = 0;
};

class TappedExchange final : public platform::HttpExchange {
 public:
  explicit TappedExchange(platform::HttpExchange& real) : real_(real) {}

  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    platform::HttpRequest sent = request;
    TapAction action;
    bool isPatch = request.method == "PATCH";
    {
      std::lock_guard lock(mutex_);
      if (isPatch) ++patches;
      if (decide) action = decide(request, isPatch ? patches : 0);
    }
    if (action.kind == TapAction::bareForbidden) return platform::HttpResponse{403, "Forbidden", {}, ""};
    if (action.kind == TapAction::cutBody) sent.body.resize(std::min(action.keepBytes, sent.body.size()));
    if (action.kind == TapAction::flipByte && !sent.body.empty()) sent.body[sent.body.size() / 2] ^= 0x5a;
    auto answer = real_.exchange(sent);
    std::lock_guard lock(mutex_);
    if (isPatch) patchBytes += sent.body.size();
    if (request.method == "POST" && request.url.find("/upload-url") != std::string::npos) ++renewals;
    if (action.kind == TapAction::cutBody || action.kind == TapAction::cutAnswer) {
      ++cuts;
      return Error{"transport_failed", "connection cut by the test"};
    }
    if (!answer) {
      if (answer.error().code == "transport_failed") ++cuts;  // the simulator's own drop fault
      return answer;
    }
    if (isPatch && answer->status == 460) ++checksumRejections;
    if (request.method == "PATCH" && (answer->status == 403 || answer->status == 410)) ++expiredAnswers;
    return answer;
  }

  std::mutex mutex_;
  // Called under the lock with the request and, for a PATCH, its number (1-based).
  std::function<TapAction(const platform::HttpRequest&, int)> decide;
  int patches = 0;
  std::uint64_t patchBytes = 0;
  int cuts = 0;
  int renewals = 0;
  int checksumRejections = 0;
  int expiredAnswers = 0;

 private:
  platform::HttpExchange& real_;
};

// Deterministic bytes (splitmix64), fed in pieces, hashed on the way; `marker` (if any) is
// repeated through the content so a test can look for plaintext on disk.
class PatternSource {
 public:
  PatternSource(std::uint64_t size, std::uint64_t seed, std::string marker = "")
      : size_(size), state_(seed), marker_(std::move(marker)) {}

  Result<std::size_t> operator()(char* buffer, std::size_t room) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(room, size_ - produced_));
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t at = produced_ + i;
      if (!marker_.empty() && (at / marker_.size()) % 4 == 0) {
        buffer[i] = marker_[static_cast<std::size_t>(at % marker_.size())];
      } else {
        if (at % 8 == 0) word_ = next();
        buffer[i] = static_cast<char>((word_ >> ((at % 8) * 8)) & 0xff);
      }
    }
    hash_.update(std::string_view(buffer, n));
    produced_ += n;
    return n;
  }
  std::string sha256Hex() { return platform::hexEncode(hash_.finish()); }

 private:
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t size_;
  std::uint64_t produced_ = 0;
  std::uint64_t state_;
  std::uint64_t word_ = 0;
  std::string marker_;
  platform::Sha256 hash_;
};

struct UploadRig {
  explicit UploadRig(const std::vector<std::string>& simArgs = {}, sync::UploadSettings settings = {},
                     const platform::Connectivity* link = nullptr)
      : f(simArgs), tap(f.http), client({f.sim.baseUrl(), f.sim.integrationToken()}, tap, f.clock) {
    auto& puller = f.puller();
    REQUIRE(puller.pull().ok());
    client.setTokenSource(f.session.get());
    capture = std::make_unique<sync::Capture>(*f.store, *f.session, f.clock);
    pusher = std::make_unique<sync::Pusher>(client, *f.store, *f.session, f.clock, platform::systemEntropy());
    uploader = std::make_unique<sync::Uploader>(client, *f.store, f.clock, link, settings);
    uploader->attachTo(*pusher);
    workOrders = f.store->workOrders().workOrderIds().value();
    REQUIRE(workOrders.size() >= 2);
  }

  // Captures `source` as a photo on work order `index`; returns the local attachment id.
  std::string capturePhoto(const std::function<Result<std::size_t>(char*, std::size_t)>& source, std::size_t index = 0,
                           const std::string& kind = "photo") {
    storage::AttachmentSpec spec{workOrders.at(index), kind, kind + ".bin", "application/octet-stream", std::nullopt};
    auto captured = sync::captureAttachment(*f.store, *capture, spec, source, {256ull << 20, 64u << 10});
    if (!captured) FAIL(captured.error().describe());
    return captured->detail["attachmentId"].get<std::string>();
  }

  // Drains, moving the fake clock past every back-off, until nothing is pending or in flight.
  // Returns the rounds used (maxRounds + 1 when it did not settle).
  int drainAll(int maxRounds = 80) {
    for (int round = 1; round <= maxRounds; ++round) {
      auto report = pusher->drain();
      REQUIRE(report.ok());
      auto counts = f.store->outbox().outboxCounts().value();
      if (counts.byState[storage::OpState::pending] + counts.byState[storage::OpState::in_flight] == 0) return round;
      f.clock.advance(std::chrono::minutes{15});
    }
    return maxRounds + 1;
  }

  // Upstream's listing of the attachment with this upstream id, as a dispatcher sees it.
  nlohmann::json upstreamAttachment(const std::string& workOrderId, const std::string& upstreamId) {
    if (dispatcher.empty()) dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
    auto r = f.sim.call("GET", "/work-orders/" + workOrderId + "/attachments?pageSize=200", dispatcher);
    REQUIRE(r.status == 200);
    const nlohmann::json listing = r.json();
    for (const auto& item : listing["items"]) {
      if (item.value("attachmentId", "") == upstreamId) return item;
    }
    return nullptr;
  }

  SyncFixture f;
  TappedExchange tap;
  sync::UpstreamClient client;
  std::unique_ptr<sync::Capture> capture;
  std::unique_ptr<sync::Pusher> pusher;
  std::unique_ptr<sync::Uploader> uploader;
  std::vector<std::string> workOrders;
  std::string dispatcher;
};

}  // namespace fieldagent::testing
