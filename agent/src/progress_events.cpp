#include "progress_events.hpp"

#include "fieldagent/agent/tuning.hpp"

namespace fieldagent::agent {

ProgressEvents::ProgressEvents(EventBus& events, platform::Clock& clock) : events_(events), clock_(clock) {}

void ProgressEvents::begin(const std::string& phase) {
  std::lock_guard lock(mutex_);
  phase_ = phase;
  counts_ = {};
}

void ProgressEvents::workOrderPageRead(int pagesRead, int pagesExpected) {
  count(true, [&](Counts& c) { c.pages = pagesRead; c.pagesTotal = pagesExpected; });
}

void ProgressEvents::workOrderRead() {
  count(false, [&](Counts& c) { ++c.workOrders; });
}

void ProgressEvents::referenceRead(int documents) {
  count(false, [&](Counts& c) { c.reference += documents; });
}

void ProgressEvents::operationAccepted() {
  count(true, [&](Counts& c) { ++c.operations; });
}

void ProgressEvents::uploadPlanned(std::uint64_t bytes) {
  count(false, [&](Counts& c) { c.uploadBytesTotal += bytes; });
}

void ProgressEvents::uploadedBytes(std::uint64_t bytes) {
  count(true, [&](Counts& c) { c.uploadedBytes += bytes; });
}

void ProgressEvents::publish(bool always) {
  const auto now = clock_.monotonic();
  if (!always && now - lastEvent_ < tuning::kProgressEvery) return;
  lastEvent_ = now;
  events_.publish("sync", {{"phase", "progress"},
                           {"step", phase_},
                           {"pages", counts_.pages},
                           {"pagesTotal", counts_.pagesTotal},
                           {"workOrders", counts_.workOrders},
                           {"reference", counts_.reference},
                           {"operations", counts_.operations},
                           {"uploadedBytes", counts_.uploadedBytes},
                           {"uploadBytesTotal", counts_.uploadBytesTotal}});
}

}  // namespace fieldagent::agent
