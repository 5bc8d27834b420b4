#pragma once
// Turns what the puller, pusher and uploader report (sync::ProgressObserver) into "sync" events
// with phase "progress": work-order pages read of those the totals announced, work orders and
// reference documents read, operations accepted, upload bytes on upstream of those planned, so
// a terminal can draw a progress bar (fieldagent sync). At most one event per
// tuning::kProgressEvery, plus one for every work-order page, operation and upload chunk.
#include <cstdint>
#include <mutex>
#include <string>

#include "fieldagent/agent/events.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/sync/progress.hpp"

namespace fieldagent::agent {

class ProgressEvents final : public sync::ProgressObserver {
 public:
  ProgressEvents(EventBus& events, platform::Clock& clock);

  // A pull or push starts ("pull", "push"): counts from zero. An empty phase stops the events.
  void begin(const std::string& phase);

  void workOrderPageRead(int pagesRead, int pagesExpected) override;
  void workOrderRead() override;
  void referenceRead(int documents) override;
  void operationAccepted() override;
  void uploadPlanned(std::uint64_t bytes) override;
  void uploadedBytes(std::uint64_t bytes) override;

 private:
  struct Counts {
    std::int64_t pages = 0, pagesTotal = 0, workOrders = 0, reference = 0, operations = 0;
    std::uint64_t uploadedBytes = 0, uploadBytesTotal = 0;
  };
  // Publishes the counts when `always`, or when the last event is kProgressEvery old. Called
  // with mutex_ held, so the events leave in the order the counts moved.
  // One change to the counts while a phase runs, then an event (at once when `always`, else
  // at most one per tuning::kProgressEvery).
  template <class F>
  void count(bool always, F&& change) {
    std::lock_guard lock(mutex_);
    if (phase_.empty()) return;
    change(counts_);
    publish(always);
  }
  void publish(bool always);

  EventBus& events_;
  platform::Clock& clock_;
  std::mutex mutex_;
  std::string phase_;
  Counts counts_;
  platform::MonoTime lastEvent_{};
};

}  // namespace fieldagent::agent
