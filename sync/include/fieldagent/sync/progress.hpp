#pragma once
// What a pull or a push has done so far, told by the parts that do it: the puller as it reads
// work-order pages, details and reference data, the pusher as upstream accepts operations, the
// uploader as chunks are acknowledged. The sync layer only counts; what becomes of it (events
// for a progress bar) is the agent's business. Every call has a no-op default, so an observer
// overrides what it cares about, and code that cares about none passes ProgressObserver::none().
//
// The pusher's lanes and the uploader running on them call from several threads at once: an
// observer must be safe for that.
#include <cstdint>

namespace fieldagent::sync {

class ProgressObserver {
 public:
  virtual ~ProgressObserver() = default;

  // A page of the work-order list was read: `pagesRead` pages so far in this pull (window
  // re-reads included), of `pagesExpected` as far as the totals upstream announced tell.
  virtual void workOrderPageRead(int /*pagesRead*/, int /*pagesExpected*/) {}
  // One work order was read in detail.
  virtual void workOrderRead() {}
  // `documents` reference documents were read (customers, sites, assets, contracts, parts,
  // stock lines): the same ones PullReport::referenceDocuments counts.
  virtual void referenceRead(int /*documents*/) {}
  // Upstream accepted one operation of the outbox (any kind, an upload once confirmed).
  virtual void operationAccepted() {}
  // An upload starts or resumes: `bytes` more are to reach upstream (the whole file; on a
  // checksum restart from 0, what has to go again).
  virtual void uploadPlanned(std::uint64_t /*bytes*/) {}
  // `bytes` more of a planned upload are on upstream: a chunk acknowledged, or found there
  // already when an upload resumes.
  virtual void uploadedBytes(std::uint64_t /*bytes*/) {}

  // The observer that ignores everything.
  static ProgressObserver& none() {
    static ProgressObserver nothing;
    return nothing;
  }
};

}  // namespace fieldagent::sync
