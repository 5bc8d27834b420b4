#pragma once
// Fills the cache for a day offline: a first prime of the technician's work orders and the
// reference data they point to, then delta pulls by updatedFrom watermark. A window's
// watermark advances only after every page of it, and everything its work orders need, is
// stored. Work orders are stored page by page, so a pull cut off half-way is repeated reading
// only what it did not store yet, and memory stays at about one page of documents.
#include <functional>
#include <set>
#include <string>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/storage/store.hpp"
#include "fieldagent/sync/progress.hpp"
#include "fieldagent/sync/session.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/upstream_client.hpp"

namespace fieldagent::sync {

struct PullReport {
  bool prime = false;           // no checkpoint before: the whole assignment was read
  int pages = 0;                // work-order pages read (all attempts)
  int workOrdersStored = 0;     // new or changed copies stored
  int workOrdersReleased = 0;   // no longer assigned: removed (or kept for unsent local work)
  int referenceDocuments = 0;   // customers, sites, assets, contracts, parts, stock lines
  int windowRereads = 0;        // windows read again because upstream changed during paging
  std::string watermark;        // the new updatedFrom watermark
};

struct PullOptions {
  // GET /work-orders/{id} for each changed work order: the list shape has no checklist, notes
  // or ETag, which offline work needs.
  bool fetchDetails = true;
  // How often a window is read again when its total moved during paging, before giving up
  // for this round (the next round starts from the same watermark).
  int maxWindowRereads = tuning::kMaxWindowRereads;
};

class Puller {
 public:
  // `progress` hears each work-order page, detail and reference read as it happens.
  Puller(UpstreamClient& client, storage::Store& store, SessionManager& session, platform::Clock& clock,
         PullOptions options = {}, ProgressObserver& progress = ProgressObserver::none());

  // One pull: prime when there is no checkpoint, else a delta. Errors carry the failing call's
  // error code (a transport code such as "transport_failed" or "tls_untrusted" — see
  // classifyTransportFailure() for which are permanent —, "unauthorized", "bad_answer",
  // "unstable_window", ...) and say which call failed; nothing already stored is lost and the watermark stays where it was.
  Result<PullReport> pull();

 private:
  // The customers and assets the work orders stored by a pull point to.
  struct References {
    std::set<std::string> customers;
    std::set<std::string> assets;
    void add(const json& workOrder);
  };
  // One list page: releases what is no longer assigned, reads the detail of what is new or
  // changed and stores those in one transaction.
  Result<void> storePage(std::vector<json>& items, const std::string& me, bool prime, References& references,
                         PullReport& report);
  Result<void> pullReference(const References& references, bool prime, PullReport& report);
  Result<void> pullStock(PullReport& report);
  Result<void> pullCatalog(PullReport& report);
  // Reads every page of a reference list and hands each page's items to `take`.
  Result<void> eachPage(const std::string& path, std::vector<std::pair<std::string, std::string>> query,
                        const std::string& idField, const std::function<Result<void>(std::vector<json>&)>& take);
  platform::WallTime serverNow() const;

  UpstreamClient& client_;
  storage::Store& store_;
  SessionManager& session_;
  platform::Clock& clock_;
  PullOptions options_;
  ProgressObserver& progress_;
};

}  // namespace fieldagent::sync
