// Push: N operations captured offline through sync::Capture (notes and consumptions, alternately,
// spread over the technician's open work orders) drained to alliance-sim by the real
// sync::Pusher, against a minimal client sending the same requests (same bodies, same
// Idempotency-Keys) one after another over one keep-alive connection to a fresh alliance-sim
// generated from the same seed.
//   push_bench [--seed S] [--ops N] [--durability full|normal]
// (--durability normal: the store at synchronous=NORMAL, to see what the fsyncs cost.)
#include <thread>

#include "bench_common.hpp"
#include "fieldagent/sync/capture.hpp"
#include "fieldagent/sync/pusher.hpp"
#include "sync_rig.hpp"

using namespace fieldagent;
using namespace fieldagent::bench;
using namespace std::chrono_literals;

namespace {

struct Request {
  std::string path;
  std::string body;
  std::string key;
};

int run(const Args& args) {
  const std::string seed = args.get("seed", "2000");
  const int ops = args.integer("ops", 200);

  const bool normal = args.get("durability", "full") == "normal";
  SyncRig rig({"--seed", seed, "--technicians", "1"}, normal ? storage::Durability::normal : storage::Durability::full);
  sync::Puller puller(rig.client, *rig.store, *rig.session, rig.clock);
  must(puller.pull(), "prime");

  std::vector<storage::WorkOrder> open;
  for (const auto& id : must(rig.store->workOrders().workOrderIds(), "ids")) {
    auto wo = must(rig.store->workOrders().workOrder(id), "work order " + id);
    const std::string status = wo.doc.value("status", "");
    if (status == "scheduled" || status == "en_route" || status == "on_site") open.push_back(std::move(wo));
  }
  if (open.empty()) throw std::runtime_error("no open work orders cached");
  const std::string me = *rig.technician().technicianId;
  const std::string van = must(rig.store->referenceData().reference(storage::ReferenceKind::technician, me),
                               "technician")["vanWarehouseId"];
  const auto stock = must(rig.store->referenceData().stock(van), "van stock");
  if (stock.empty()) throw std::runtime_error("the van holds no stock");

  // Capture: one durable local write each.
  sync::Capture capture(*rig.store, *rig.session, rig.clock);
  const auto captureStart = std::chrono::steady_clock::now();
  for (int i = 0; i < ops; ++i) {
    const auto& wo = open[static_cast<std::size_t>(i) % open.size()];
    if (i % 2 == 0) {
      must(capture.addNote(wo.workOrderId, {{"text", "bench note " + std::to_string(i)}}), "note");
    } else {
      const auto& line = stock[static_cast<std::size_t>(i / 2) % stock.size()];
      json consumption = {
          {"parts", {{{"partNumber", line.partNumber}, {"quantity", 1}, {"uom", "EA"}, {"bin", line.bin}}}},
          {"labor", {{{"laborType", "regular"}, {"hours", 0.5}, {"notes", "bench labor " + std::to_string(i)}}}}};
      must(capture.recordConsumption(wo.workOrderId, consumption), "consumption");
    }
  }
  const double captureSeconds = secondsSince(captureStart);

  // The same requests the pusher will send, for the baseline.
  std::vector<Request> requests;
  storage::OutboxFilter filter;
  filter.state = storage::OpState::pending;
  filter.limit = 1000;
  for (;;) {
    auto page = must(rig.store->outbox().listOperations(filter), "outbox");
    if (page.empty()) break;
    for (const auto& o : page) {
      filter.afterId = o.id;
      if (o.kind == sync::op::kNote) {
        auto wo = must(rig.store->workOrders().workOrder(o.workOrderId), "work order");
        json body = {{"note", o.payload.value("note", "")},
                     {"occurredAt", o.payload.value("occurredAt", "")},
                     {"status", wo.serverDoc.value("status", "")}};
        requests.push_back({"/work-orders/" + o.workOrderId + "/status", body.dump(), o.idempotencyKey});
      } else if (o.kind == sync::op::kConsumption) {
        requests.push_back({"/work-orders/" + o.workOrderId + "/consumptions",
                            o.payload.value("request", json::object()).dump(), o.idempotencyKey});
      } else {
        throw std::runtime_error("unexpected operation kind " + o.kind);
      }
    }
  }
  if (requests.size() != static_cast<std::size_t>(ops)) {
    throw std::runtime_error("captured " + std::to_string(requests.size()) + " operations, expected " +
                             std::to_string(ops));
  }

  // Baseline on a fresh sim with the same data.
  double baselineSeconds = 0;
  {
    testing::SimProcess sim({"--seed", seed, "--technicians", "1"});
    const std::string token = sim.login(sim.technicianUser("totp"));
    KeepAliveClient client(sim.baseUrl());
    const auto start = std::chrono::steady_clock::now();
    for (const auto& r : requests) {
      Reply reply = client.call("POST", r.path, r.body,
                                {{"Authorization", "Bearer " + token}, {"Idempotency-Key", r.key}});
      if (reply.status / 100 != 2) {
        throw std::runtime_error("baseline POST " + r.path + ": " + std::to_string(reply.status) + " " + reply.body);
      }
    }
    baselineSeconds = secondsSince(start);
  }

  // Ours: the pusher drains until nothing is pending (back-offs, if any, run on the real clock).
  sync::Pusher pusher(rig.client, *rig.store, *rig.session, rig.clock, platform::systemEntropy());
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + 30min;
  sync::PushReport total;
  for (;;) {
    auto report = must(pusher.drain(), "drain");
    total.sent += report.sent;
    total.done += report.done;
    total.retried += report.retried;
    total.rejected += report.rejected;
    total.conflicts += report.conflicts;
    auto counts = must(rig.store->outbox().outboxCounts(), "counts");
    if (counts.byState[storage::OpState::pending] + counts.byState[storage::OpState::in_flight] == 0) break;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("the outbox did not drain");
    std::this_thread::sleep_for(50ms);  // a back-off is waiting on the real clock
  }
  const double seconds = secondsSince(start);
  if (total.done != ops) {
    throw std::runtime_error("pushed " + std::to_string(total.done) + " of " + std::to_string(ops) + " (" +
                             std::to_string(total.rejected) + " rejected, " + std::to_string(total.conflicts) +
                             " conflicts)");
  }

  const std::string label = std::to_string(ops) + (normal ? " (synchronous=NORMAL)" : "");
  const std::string note = label + " operations (notes and consumptions) over " + std::to_string(open.size()) +
                           " open work orders; " + std::to_string(total.retried) +
                           " retries; baseline: one connection, in order";
  emit("Push " + label + " operations: time", "s", seconds, baselineSeconds, "lower", note);
  emit("Push" + std::string(normal ? " (synchronous=NORMAL)" : "") + ": operations/s", "1/s", ops / seconds, ops / baselineSeconds, "higher");
  emit("Capture (durable local write + outbox operation): time per operation", "ms", captureSeconds * 1000 / ops,
       nullptr, "lower", "no baseline; storage_bench gives bytes per operation against raw SQLite");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(Args(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "push_bench: %s\n", e.what());
    return 1;
  }
}
