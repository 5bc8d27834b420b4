// The puller, pusher and uploader tell a progress observer what they do, against the reference
// upstream: the counts are those of the pages, work orders, reference documents, operations and
// bytes that actually went over the wire, which is what a technician's progress bar shows.
#include <catch2/catch.hpp>

#include <mutex>
#include <utility>
#include <vector>

#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/progress.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/uploader.hpp"
#include "sync_fixture.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::SyncFixture;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Writes down every call; the pusher's lanes call from several threads.
class RecordingObserver final : public ProgressObserver {
 public:
  void workOrderPageRead(int pagesRead, int pagesExpected) override {
    std::lock_guard lock(mutex);
    pages.emplace_back(pagesRead, pagesExpected);
  }
  void workOrderRead() override {
    std::lock_guard lock(mutex);
    ++workOrders;
  }
  void referenceRead(int documents) override {
    std::lock_guard lock(mutex);
    reference += documents;
  }
  void operationAccepted() override {
    std::lock_guard lock(mutex);
    ++operations;
  }
  void uploadPlanned(std::uint64_t bytes) override {
    std::lock_guard lock(mutex);
    planned += bytes;
  }
  void uploadedBytes(std::uint64_t bytes) override {
    std::lock_guard lock(mutex);
    uploaded += bytes;
    ++chunks;
  }

  std::mutex mutex;
  std::vector<std::pair<int, int>> pages;
  int workOrders = 0;
  int reference = 0;
  int operations = 0;
  std::uint64_t planned = 0;
  std::uint64_t uploaded = 0;
  int chunks = 0;
};

bool isWorkOrderList(const platform::HttpRequest& r) {
  const auto path = r.url.substr(0, r.url.find('?'));
  return r.method == "GET" && path.size() >= 12 && path.compare(path.size() - 12, 12, "/work-orders") == 0;
}

bool isWorkOrderDetail(const platform::HttpRequest& r) {
  return r.method == "GET" && r.url.find("/work-orders/wo_") != std::string::npos &&
         r.url.find('/', r.url.find("/work-orders/wo_") + 13) == std::string::npos;
}

std::string uploadedId(const Result<Captured>& captured) {
  if (!captured) FAIL(captured.error().code.str() + ": " + captured.error().message);
  return captured->detail["attachmentId"].get<std::string>();
}

}  // namespace

TEST_CASE("the puller reports each work-order page, detail and reference document it reads", "[puller][progress]") {
  // About 500 work orders assigned: three list pages of 200.
  SyncFixture f({"--seed", "600", "--technicians", "1"});
  auto& session = f.as(f.technician());
  REQUIRE(session.signIn().ok());
  RecordingObserver seen;
  Puller puller(f.client, *f.store, session, f.clock, {}, seen);
  int listed = 0, details = 0;
  f.http.before = [&](const platform::HttpRequest& r) {
    listed += isWorkOrderList(r) ? 1 : 0;
    details += isWorkOrderDetail(r) ? 1 : 0;
  };

  auto prime = puller.pull();
  if (!prime) FAIL(prime.error().code.str() + ": " + prime.error().message);
  REQUIRE(prime->pages >= 3);
  CHECK(listed == prime->pages);
  REQUIRE(seen.pages.size() == static_cast<std::size_t>(prime->pages));
  for (std::size_t i = 0; i < seen.pages.size(); ++i) {
    CAPTURE(i);
    CHECK(seen.pages[i].first == static_cast<int>(i) + 1);
    CHECK(seen.pages[i].second == prime->pages);  // the first page already tells how many there are
  }
  CHECK(seen.workOrders == details);
  CHECK(seen.workOrders == prime->workOrdersStored);
  CHECK(seen.reference == prime->referenceDocuments);
  CHECK(seen.reference > 0);
  CHECK(seen.operations == 0);
  CHECK(seen.planned == 0);

  // A delta after one dispatcher edit: one page, one work order read again.
  std::string edited;
  for (const auto& id : f.store->workOrders().workOrderIds().value()) {
    if (f.store->workOrders().workOrder(id).value().doc["status"] == "scheduled") edited = id;
  }
  REQUIRE_FALSE(edited.empty());
  const std::string dispatcher = f.sim.login(f.sim.user("totp", "dispatch"));
  const json window = {{"start", "2026-03-02T08:00:00Z"}, {"end", "2026-03-02T12:00:00Z"}};
  REQUIRE(f.sim.call("PATCH", "/work-orders/" + edited, dispatcher, {{"appointmentWindow", window}}).status == 200);
  f.clock.advance(1min);
  RecordingObserver delta;
  Puller deltaPuller(f.client, *f.store, session, f.clock, {}, delta);
  auto again = deltaPuller.pull();
  if (!again) FAIL(again.error().code.str() + ": " + again.error().message);
  CHECK_FALSE(again->prime);
  REQUIRE(delta.pages.size() == static_cast<std::size_t>(again->pages));
  CHECK(delta.pages.back() == std::pair<int, int>{again->pages, again->pages});
  CHECK(delta.workOrders == again->workOrdersStored);
  CHECK(delta.workOrders >= 1);
  CHECK(delta.reference == again->referenceDocuments);
}

TEST_CASE("the pusher reports each operation upstream accepts, not those it refused", "[pusher][progress]") {
  SyncFixture f({"--seed", "60", "--technicians", "3"});
  auto& puller = f.puller();
  REQUIRE(puller.pull().ok());
  Capture capture(*f.store, *f.session, f.clock);
  RecordingObserver seen;
  Pusher pusher(f.client, *f.store, *f.session, f.clock, platform::systemEntropy(), {}, seen);

  std::vector<std::string> scheduled;
  for (const auto& id : f.store->workOrders().workOrderIds().value()) {
    if (f.store->workOrders().workOrder(id).value().doc["status"] == "scheduled") scheduled.push_back(id);
  }
  REQUIRE(scheduled.size() >= 3);
  int captured = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    for (const char* s : {"en_route", "on_site"}) {
      REQUIRE(capture.moveStatus(scheduled[i], {{"status", s}}).ok());
      ++captured;
    }
  }
  REQUIRE(capture.recordConsumption(scheduled[1], {{"labor", {{{"laborType", "regular"}, {"hours", 1.5}}}}}).ok());
  REQUIRE(capture.addNote(scheduled[2], {{"text", "gate code 4711"}}).ok());
  captured += 2;
  // A signature token upstream never issued: refused (422), so not counted.
  REQUIRE(capture
              .recordConsumption(scheduled[0], {{"labor", {{{"laborType", "regular"}, {"hours", 1}}}},
                                                {"customerSignature",
                                                 {{"name", "Dana Harris"},
                                                  {"signedAt", "2026-01-21T17:35:00Z"},
                                                  {"signatureToken", "upl_forged"}}}})
              .ok());

  auto report = pusher.drain();
  REQUIRE(report.ok());
  CHECK(report->rejected == 1);
  CHECK(report->done == captured);
  CHECK(seen.operations == captured);
  CHECK(f.store->outbox().outboxCounts().value().byState.at(storage::OpState::done) == seen.operations);
  CHECK(seen.pages.empty());
  CHECK(seen.workOrders == 0);  // the pusher's own re-reads are no pull progress
}

TEST_CASE("the uploader reports the bytes it plans and each chunk upstream acknowledges, also when resuming",
          "[uploads][progress]") {
  SyncFixture f({"--seed", "60", "--technicians", "3"});
  auto& puller = f.puller();
  REQUIRE(puller.pull().ok());
  Capture capture(*f.store, *f.session, f.clock);
  UploadSettings settings;
  settings.chunkBytes = 256 * 1024;
  // One observer per drain, as the agent starts counting afresh for each push.
  auto first = std::make_unique<RecordingObserver>();
  struct Forward final : ProgressObserver {
    ProgressObserver* to = nullptr;
    void operationAccepted() override { to->operationAccepted(); }
    void uploadPlanned(std::uint64_t bytes) override { to->uploadPlanned(bytes); }
    void uploadedBytes(std::uint64_t bytes) override { to->uploadedBytes(bytes); }
  } forward;
  forward.to = first.get();
  Pusher pusher(f.client, *f.store, *f.session, f.clock, platform::systemEntropy(), {}, forward);
  Uploader uploader(f.client, *f.store, f.clock, nullptr, settings, forward);
  uploader.attachTo(pusher);

  const std::uint64_t size = 700'000;  // three chunks: 256 KiB, 256 KiB, the rest
  std::uint64_t fed = 0;
  auto source = [&](char* buffer, std::size_t room) -> Result<std::size_t> {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(room, size - fed));
    for (std::size_t i = 0; i < n; ++i) buffer[i] = static_cast<char>('a' + (fed + i) % 26);
    fed += n;
    return n;
  };
  const std::string workOrder = f.store->workOrders().workOrderIds().value().front();
  const std::string id = uploadedId(captureAttachment(
      *f.store, capture, {workOrder, "photo", "meter.jpg", "image/jpeg", std::nullopt}, source));

  // Upstream answers the second chunk 503 with a Retry-After of an hour: the first chunk is on
  // upstream, and the upload waits for a later push.
  std::uint64_t patchedBytes = 0;
  int patches = 0;
  f.http.before = [&](const platform::HttpRequest& r) {
    if (r.method != "PATCH") return;
    if (++patches == 2) {
      // The upload's own id, the last segment of its path (the simulator matches below its
      // base path).
      std::string path = r.url.substr(0, r.url.find('?'));
      path = path.substr(path.rfind('/'));
      REQUIRE(f.sim.admin("PUT", "/faults", {{"error503Share", 1.0}, {"retryAfterSeconds", 3600}, {"pathContains", path}})
                  .status == 200);
      return;
    }
    patchedBytes += r.body.size();
  };
  auto cut = pusher.drain();
  REQUIRE(cut.ok());
  INFO("sent " << cut->sent << " done " << cut->done << " rejected " << cut->rejected << " patches " << patches << " "
               << f.store->attachments().attachment(id).value().lastError);
  REQUIRE(cut->retried == 1);
  CHECK(first->operations == 0);
  CHECK(first->planned == size);
  CHECK(first->uploaded == settings.chunkBytes);
  CHECK(first->uploaded == patchedBytes);

  // The next push resumes from upstream's offset: what was there already counts as uploaded, so
  // the bar ends full, and only the rest goes over the wire.
  REQUIRE(f.sim.admin("DELETE", "/faults").status == 200);
  auto second = std::make_unique<RecordingObserver>();
  forward.to = second.get();
  patchedBytes = 0;
  f.clock.advance(2h);
  auto resumed = pusher.drain();
  REQUIRE(resumed.ok());
  REQUIRE(resumed->done == 1);
  CHECK(f.store->attachments().attachment(id).value().state == storage::AttachmentState::confirmed);
  CHECK(second->operations == 1);
  CHECK(second->planned == size);
  CHECK(second->uploaded == size);
  CHECK(patchedBytes == size - settings.chunkBytes);
  CHECK(second->chunks == 3);  // what was found on upstream, then two chunks
}
