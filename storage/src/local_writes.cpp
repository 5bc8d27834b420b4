// The LocalWrites part: a cache change and its outbox operations in one transaction.
#include <string>
#include <utility>

#include "fieldagent/storage/local_writes.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

Result<LocalWriteResult> LocalWrites::applyLocalWrite(const LocalWrite& write) {
  if (write.workOrderId.empty()) return makeError("invalid", "a local write needs its work order");
  if (write.operations.empty()) {
    return makeError("invalid", "a local write on " + write.workOrderId +
                                    " has no outbox operation; every change must reach upstream");
  }
  if (write.workOrderPatch && !write.workOrderPatch->is_object()) {
    return makeError("invalid", "the change to work order " + write.workOrderId + " must be a JSON object");
  }
  if (write.workOrderPatch && write.workOrderPatch->contains(detail::kAppendKey)) {
    return makeError("invalid", std::string("the change to work order ") + write.workOrderId + " may not set " +
                                    detail::kAppendKey);
  }
  for (const auto& [field, item] : write.appends)
    if (field.empty()) return makeError("invalid", "an item added to work order " + write.workOrderId + " needs its field");
  for (std::size_t i = 0; i < write.operations.size(); ++i) {
    const auto& op = write.operations[i];
    if (op.kind.empty()) return makeError("invalid", "operation " + std::to_string(i + 1) + " has no kind");
    for (std::size_t dep : op.dependsOnInWrite) {
      if (dep >= i) {
        return makeError("invalid", "operation " + std::to_string(i + 1) +
                                        " of the write may only depend on earlier "
                                        "operations of it");
      }
    }
  }
  for (const auto& adj : write.stock) {
    if (adj.warehouseId.empty() || adj.partNumber.empty()) {
      return makeError("invalid", "a stock adjustment needs its warehouseId and partNumber");
    }
  }

  auto lock = core_.db().lock();
  for (const auto& att : write.attachments) {
    std::lock_guard quotaLock(core_.quota->mutex);
    if (!core_.quota->unrecorded.count(att.id)) {
      return makeError("invalid", "attachment " + att.id + " was not written by this store or is already recorded");
    }
  }
  Database& db = core_.db();
  auto txn = Transaction::begin(db);
  if (!txn) return txn.error();
  auto exists = detail::workOrderExists(db, write.workOrderId);
  if (!exists) return exists.error();
  if (!*exists) return makeError("not_found", "work order " + write.workOrderId + " is not in the offline cache");

  const std::int64_t now = core_.nowMillis();
  LocalWriteResult result;
  const std::optional<std::string> patch = detail::storedPatch(write);
  if (auto r = db.run("INSERT INTO local_writes (work_order_id, patch, created_at) VALUES (?1, ?2, ?3)",
                      write.workOrderId, patch, now);
      !r) {
    return r.error();
  }
  result.writeId = db.lastInsertId();

  for (std::size_t i = 0; i < write.operations.size(); ++i) {
    const auto& op = write.operations[i];
    std::vector<std::int64_t> deps = op.dependsOn;
    for (std::size_t d : op.dependsOnInWrite) deps.push_back(result.operations[d].id);
    bool held = false;
    for (std::int64_t dep : deps) {
      auto check =
          db.query("SELECT state IN ('rejected', 'conflict', 'archived') OR held FROM outbox WHERE id = ?1", dep);
      if (!check) return check.error();
      auto parked = check->firstRow(detail::integerColumn);
      if (!parked) return parked.error();
      if (!*parked) {
        return makeError("invalid", "operation " + std::to_string(i + 1) + " depends on operation " +
                                        std::to_string(dep) + ", which does not exist");
      }
      held = held || **parked != 0;
    }
    RecordedOperation recorded;
    // The key is made here, inside the transaction that records the operation, before any byte
    // of it can be sent: every attempt of this operation will carry it.
    recorded.idempotencyKey = detail::makeIdempotencyKey(core_.entropy);
    if (auto r = db.run("INSERT INTO outbox (write_id, kind, work_order_id, payload, idempotency_key, base_version, "
                        "state, held, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8)",
                        result.writeId, op.kind, write.workOrderId, op.payload.dump(), recorded.idempotencyKey,
                        op.baseVersion, held ? 1 : 0, now);
        !r) {
      return r.error();
    }
    recorded.id = db.lastInsertId();
    for (std::int64_t dep : deps) {
      if (auto r = db.run("INSERT OR IGNORE INTO outbox_deps (op_id, depends_on) VALUES (?1, ?2)", recorded.id, dep);
          !r) {
        return r.error();
      }
    }
    result.operations.push_back(std::move(recorded));
  }

  for (const auto& adj : write.stock) {
    const Json placeholder = {
        {"warehouseId", adj.warehouseId}, {"partNumber", adj.partNumber}, {"bin", adj.bin}, {"quantityOnHand", 0}};
    if (auto r = db.run("INSERT OR IGNORE INTO stock (warehouse_id, part_number, bin, quantity, doc, cached_at) "
                        "VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                        adj.warehouseId, adj.partNumber, adj.bin, placeholder.dump(), now);
        !r) {
      return r.error();
    }
    if (auto r = db.run("INSERT INTO stock_adjustments (write_id, warehouse_id, part_number, bin, delta) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)",
                        result.writeId, adj.warehouseId, adj.partNumber, adj.bin, adj.delta);
        !r) {
      return r.error();
    }
  }

  for (const auto& att : write.attachments) {
    if (auto r = db.run("INSERT INTO attachments (id, write_id, work_order_id, kind, file_name, content_type, "
                        "size_bytes, sha256, state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'stored', ?9)",
                        att.id, result.writeId, write.workOrderId, att.spec.kind, att.spec.fileName,
                        att.spec.contentType, static_cast<std::int64_t>(att.sizeBytes), att.sha256, now);
        !r) {
      return r.error();
    }
  }

  if (auto r = detail::refreshWorkOrderView(db, write.workOrderId); !r) return r.error();
  if (auto r = txn->commit(); !r) return r.error();

  std::lock_guard quotaLock(core_.quota->mutex);
  for (const auto& att : write.attachments) {
    core_.quota->unrecorded.erase(att.id);
    core_.quota->recorded += att.sizeBytes;
  }
  return result;
}

}  // namespace fieldagent::storage
