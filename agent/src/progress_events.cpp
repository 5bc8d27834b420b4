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
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  counts_.pages = pagesRead;
  counts_.pagesTotal = pagesExpected;
  publish(true);
}

void ProgressEvents::workOrderRead() {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  ++counts_.workOrders;
  publish(false);
}

void ProgressEvents::referenceRead(int documents) {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  counts_.reference += documents;
  publish(false);
}

void ProgressEvents::operationAccepted() {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  ++counts_.operations;
  publish(true);
}

void ProgressEvents::uploadPlanned(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  counts_.uploadBytesTotal += bytes;
  publish(false);
}

void ProgressEvents::uploadedBytes(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  counts_.uploadedBytes += bytes;
  publish(true);
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
