#include "fieldagent/sync/puller.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <limits>
#include <map>

#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::sync {
namespace {

const char* kWorkOrdersCheckpoint = "work-orders";
const char* kPartsCheckpoint = "parts";
const char* kStockCheckpoint = "inventory";

template <class T>
Error failed(const std::string& what, const Answer<T>& answer) {
  return makeError(answer.errorCode, what + ": " + answer.message);
}

bool assignedTo(const json& workOrder, const std::string& technicianId) {
  const auto it = workOrder.find("assignedTechnicianIds");
  if (it == workOrder.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(),
                     [&](const json& id) { return id.is_string() && id.get_ref<const std::string&>() == technicianId; });
}

std::string stringField(const json& doc, const char* key) {
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string nestedString(const json& doc, const char* outer, const char* inner) {
  const auto it = doc.find(outer);
  return it != doc.end() && it->is_object() ? stringField(*it, inner) : std::string();
}

std::string minusOverlap(const std::string& watermark) {
  platform::WallTime t{};
  if (!platform::parseIso8601(watermark, t)) return watermark;
  return platform::formatIso8601(t - tuning::kPullOverlap);
}

Poco::Logger& log() { return Poco::Logger::get("fieldagent.puller"); }

}  // namespace

Puller::Puller(UpstreamClient& client, storage::Store& store, SessionManager& session, platform::Clock& clock,
               PullOptions options, ProgressObserver& progress)
    : client_(client), store_(store), session_(session), clock_(clock), options_(options), progress_(progress) {}

platform::WallTime Puller::serverNow() const {
  return clock_.now() + client_.serverClockOffset().value_or(std::chrono::seconds{0});
}

Result<PullReport> Puller::pull() {
  const SessionStatus who = session_.status();
  if (who.user.technicianId.empty()) {
    return makeError("no_technician", "the signed-in user is not a technician: there are no work orders to pull");
  }
  if (auto e = session_.requireEntitlement("workOrders"); !e) return e.error();
  const std::string& me = who.user.technicianId;

  PullReport report;
  auto checkpoint = store_.syncState().checkpoint(kWorkOrdersCheckpoint);
  if (!checkpoint) return checkpoint.error();
  report.prime = !checkpoint->has_value();

  // The window ends at the server's "now" when the pull starts, fixed for all its pages: work
  // orders changed while we page move out of the window (their updatedAt passes its end) and
  // are read by the next window, and a moved total tells us to read this one again.
  const std::string windowEnd = platform::formatIso8601(serverNow());
  WorkOrderQuery query;
  query.sortByUpdatedAt = true;
  query.pageSize = tuning::kPullPageSize;
  query.updatedTo = windowEnd;
  if (report.prime) {
    query.technicianId = me;
  } else {
    // No technician filter on deltas: a work order taken away from this technician no longer
    // matches it, and must still be seen to be released.
    query.updatedFrom = minusOverlap((*checkpoint)->watermark);
  }

  // Each page's work orders are read in detail and stored before the next page is listed, so
  // memory stays at about one page of documents whatever the size of the assignment, and a
  // prime cut off half-way keeps what it stored: the next round lists again from page 1 but
  // reads only what is not cached at that version. Across pages only the ids of the customers
  // and assets the stored work orders point to are kept. A work order seen twice (pages shift
  // under us) is handled twice, in the order read: the later copy is never the older one, and
  // the second time it is already cached at that version.
  References references;
  bool stable = false;
  for (int attempt = 0; attempt <= options_.maxWindowRereads && !stable; ++attempt) {
    if (attempt > 0) ++report.windowRereads;
    long long firstTotal = -1;
    const int readBefore = report.pages;  // a window read again counts its pages on top
    stable = true;
    for (query.page = 1;; ++query.page) {
      auto page = client_.listWorkOrders(query);
      if (!page.ok()) return failed("GET /work-orders page " + std::to_string(query.page), page);
      ++report.pages;
      if (firstTotal < 0) firstTotal = page.value->total;
      // The server's own page size counts: it may cap what was asked for.
      const long long pageSize = std::max(1, page.value->pageSize);
      const long long inWindow = std::max(1LL, (page.value->total + pageSize - 1) / pageSize);
      progress_.workOrderPageRead(
          report.pages, static_cast<int>(std::min<long long>(std::numeric_limits<int>::max(),
                                                             std::max<long long>(report.pages, readBefore + inWindow))));
      if (auto r = storePage(page.value->items, me, report.prime, references, report); !r) return r.error();
      const bool last = page.value->items.empty() || static_cast<long long>(query.page) * pageSize >= page.value->total;
      if (page.value->total != firstTotal) stable = false;
      if (last) break;
    }
  }
  if (!stable) {
    return makeError("unstable_window", "work orders kept changing while the window up to " + windowEnd +
                                            " was read; it is read again next round");
  }

  if (auto r = pullReference(references, report.prime, report); !r) return r.error();
  if (auto r = pullCatalog(report); !r) return r.error();
  if (auto r = pullStock(report); !r) return r.error();

  if (auto r = store_.syncState().saveCheckpoint(kWorkOrdersCheckpoint, {windowEnd, "", clock_.now()}); !r) {
    return r.error();
  }
  report.watermark = windowEnd;
  log().information("pull %s: %d work orders stored, %d released, %d reference documents, %d pages",
                    std::string(report.prime ? "prime" : "delta"), report.workOrdersStored,
                    report.workOrdersReleased, report.referenceDocuments, report.pages);
  return report;
}

Result<void> Puller::storePage(std::vector<json>& items, const std::string& me, bool prime, References& references,
                               PullReport& report) {
  std::vector<storage::ServerWorkOrder> toStore;
  for (auto& item : items) {
    const std::string id = item["workOrderId"].get<std::string>();
    const std::string updatedAt = stringField(item, "updatedAt");
    if (!assignedTo(item, me)) {
      auto released = store_.workOrders().releaseWorkOrder(id);
      if (!released) return released.error();
      if (*released != storage::ReleaseOutcome::notCached) ++report.workOrdersReleased;
      continue;
    }
    // Already cached at this version (the overlap re-reads some, and so does a prime that was
    // cut off): nothing to read. On a prime its reference data may still be missing.
    auto known = store_.workOrders().serverUpdatedAt(id);
    if (!known) return known.error();
    if (*known && !(*known)->empty() && **known == updatedAt) {
      if (prime) references.add(item);
      continue;
    }
    storage::ServerWorkOrder copy{std::move(item), ""};
    if (options_.fetchDetails) {
      auto detail = client_.getWorkOrder(id);
      if (detail.status == 404) continue;  // deleted upstream between list and read
      if (!detail.ok()) return failed("GET /work-orders/" + id, detail);
      progress_.workOrderRead();
      copy.doc = std::move(*detail.value);
      copy.etag = detail.etag;
      if (!assignedTo(copy.doc, me)) {
        auto released = store_.workOrders().releaseWorkOrder(id);
        if (!released) return released.error();
        continue;
      }
    }
    references.add(copy.doc);
    toStore.push_back(std::move(copy));
  }
  if (toStore.empty()) return {};
  if (auto r = store_.workOrders().upsertWorkOrders(toStore); !r) return r;
  report.workOrdersStored += static_cast<int>(toStore.size());
  return {};
}

void Puller::References::add(const json& workOrder) {
  if (auto c = stringField(workOrder, "customerId"); !c.empty()) customers.insert(c);
  if (auto a = nestedString(workOrder, "asset", "assetId"); !a.empty()) assets.insert(a);
}

Result<void> Puller::pullReference(const References& references, bool prime, PullReport& report) {
  if ((references.customers.empty() && references.assets.empty()) || !session_.requireEntitlement("customers")) {
    return {};
  }
  auto store = [&](storage::ReferenceKind kind, std::vector<json> docs) -> Result<void> {
    report.referenceDocuments += static_cast<int>(docs.size());
    return store_.referenceData().upsertReference(kind, docs);
  };
  // A prime starts from an empty cache, so what it finds cached was stored by an earlier,
  // cut-off attempt of this same prime: not read again. A customer is stored after its sites
  // and contracts, so a cached customer means all three are. Deltas read everything again.
  auto cached = [&](storage::ReferenceKind kind, const std::string& id) -> Result<bool> {
    if (!prime) return false;
    return store_.referenceData().hasReference(kind, id);
  };
  for (const auto& customerId : references.customers) {
    auto have = cached(storage::ReferenceKind::customer, customerId);
    if (!have) return have.error();
    if (*have) continue;
    for (auto [path, kind, idField] :
         {std::tuple{"/sites", storage::ReferenceKind::site, "siteId"},
          std::tuple{"/contracts", storage::ReferenceKind::contract, "contractId"}}) {
      auto r = eachPage(path, {{"customerId", customerId}}, idField,
                        // A copy: clang before 16 cannot capture a structured binding.
                        [&, referenceKind = kind](std::vector<json>& docs) {
                          return store(referenceKind, std::move(docs));
                        });
      if (!r) return r;
    }
    auto customer = client_.getResource("/customers/" + encodeQueryComponent(customerId), "customerId");
    if (customer.ok()) {
      progress_.referenceRead(1);
      if (auto r = store(storage::ReferenceKind::customer, {*customer.value}); !r) return r;
    } else if (customer.outcome != Outcome::rejected) {
      return failed("GET /customers/" + customerId, customer);
    }  // a 404/403 for one customer leaves the others to be pulled
  }
  // Assets are read one by one but stored a page's worth at a time: one transaction (and one
  // fsync) per batch instead of per asset. A cut loses at most the batch not yet stored.
  std::vector<json> assets;
  for (const auto& assetId : references.assets) {
    auto have = cached(storage::ReferenceKind::asset, assetId);
    if (!have) return have.error();
    if (*have) continue;
    auto asset = client_.getResource("/assets/" + encodeQueryComponent(assetId), "assetId");
    if (asset.ok()) {
      progress_.referenceRead(1);
      assets.push_back(std::move(*asset.value));
    } else if (asset.outcome != Outcome::rejected) {
      if (!assets.empty()) (void)store(storage::ReferenceKind::asset, std::move(assets));
      return failed("GET /assets/" + assetId, asset);
    }
    if (assets.size() >= static_cast<std::size_t>(tuning::kPullPageSize)) {
      if (auto r = store(storage::ReferenceKind::asset, std::move(assets)); !r) return r;
      assets.clear();
    }
  }
  if (!assets.empty()) return store(storage::ReferenceKind::asset, std::move(assets));
  return {};
}

Result<void> Puller::eachPage(const std::string& path, std::vector<std::pair<std::string, std::string>> query,
                              const std::string& idField, const std::function<Result<void>(std::vector<json>&)>& take) {
  query.emplace_back("pageSize", std::to_string(tuning::kPullPageSize));
  query.emplace_back("page", "1");
  for (int page = 1;; ++page) {
    query.back().second = std::to_string(page);
    auto answer = client_.listResource(path, query, idField);
    if (!answer.ok()) return failed("GET " + path + " page " + std::to_string(page), answer);
    progress_.referenceRead(static_cast<int>(answer.value->items.size()));
    const bool last = answer.value->items.empty() ||
                      static_cast<long long>(page) * std::max(1, answer.value->pageSize) >= answer.value->total;
    if (auto r = take(answer.value->items); !r) return r;
    if (last) return {};
  }
}

Result<void> Puller::pullCatalog(PullReport& report) {
  if (!session_.requireEntitlement("inventory")) return {};
  auto checkpoint = store_.syncState().checkpoint(kPartsCheckpoint);
  if (!checkpoint) return checkpoint.error();
  const std::string windowEnd = platform::formatIso8601(serverNow());
  std::vector<std::pair<std::string, std::string>> query;
  if (checkpoint->has_value()) query.emplace_back("updatedFrom", minusOverlap((*checkpoint)->watermark));
  auto r = eachPage("/parts", query, "partNumber", [&](std::vector<json>& docs) {
    report.referenceDocuments += static_cast<int>(docs.size());
    return store_.referenceData().upsertReference(storage::ReferenceKind::part, docs);
  });
  if (!r) return r;
  return store_.syncState().saveCheckpoint(kPartsCheckpoint, {windowEnd, "", clock_.now()});
}

Result<void> Puller::pullStock(PullReport& report) {
  if (!session_.requireEntitlement("inventory")) return {};
  const std::string me = session_.status().user.technicianId;
  auto technician = client_.getResource("/technicians/" + encodeQueryComponent(me), "technicianId");
  if (!technician.ok()) return failed("GET /technicians/" + me, technician);
  if (auto r = store_.referenceData().upsertReference(storage::ReferenceKind::technician, {*technician.value}); !r) {
    return r;
  }
  const std::string van = stringField(*technician.value, "vanWarehouseId");
  if (van.empty()) return {};

  auto checkpoint = store_.syncState().checkpoint(kStockCheckpoint);
  if (!checkpoint) return checkpoint.error();
  const std::string windowEnd = platform::formatIso8601(serverNow());
  std::vector<std::pair<std::string, std::string>> query{{"warehouseId", van}};
  if (checkpoint->has_value()) query.emplace_back("updatedFrom", minusOverlap((*checkpoint)->watermark));
  auto r = eachPage("/inventory", query, "partNumber", [&](std::vector<json>& docs) {
    report.referenceDocuments += static_cast<int>(docs.size());
    return store_.referenceData().upsertStock(docs);
  });
  if (!r) return r;
  return store_.syncState().saveCheckpoint(kStockCheckpoint, {windowEnd, "", clock_.now()});
}

}  // namespace fieldagent::sync
