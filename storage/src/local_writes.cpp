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

  const std::int64_t now = toMillis(core_.clock.now());
  LocalWriteResult result;
  {
    auto insert = db.prepare("INSERT INTO local_writes (work_order_id, patch, created_at) VALUES (?1, ?2, ?3)");
    if (!insert) return insert.error();
    insert->bind(1, write.workOrderId).bind(3, now);
    if (write.workOrderPatch) {
      insert->bind(2, write.workOrderPatch->dump());
    } else {
      insert->bindNull(2);
    }
    if (auto r = insert->run(); !r) return r.error();
    result.writeId = db.lastInsertId();
  }

  for (std::size_t i = 0; i < write.operations.size(); ++i) {
    const auto& op = write.operations[i];
    std::vector<std::int64_t> deps = op.dependsOn;
    for (std::size_t d : op.dependsOnInWrite) deps.push_back(result.operations[d].id);
    bool held = false;
    for (std::int64_t dep : deps) {
      auto check = db.prepare("SELECT state IN ('rejected', 'conflict', 'archived') OR held FROM outbox WHERE id = ?1");
      if (!check) return check.error();
      auto row = check->bind(1, dep).step();
      if (!row) return row.error();
      if (!*row) {
        return makeError("invalid", "operation " + std::to_string(i + 1) + " depends on operation " +
                                        std::to_string(dep) + ", which does not exist");
      }
      held = held || check->integer(0) != 0;
    }
    RecordedOperation recorded;
    // The key is made here, inside the transaction that records the operation, before any byte
    // of it can be sent: every attempt of this operation will carry it.
    recorded.idempotencyKey = "fa_" + detail::randomHex(core_.entropy, 16);
    auto insert = db.prepare(
        "INSERT INTO outbox (write_id, kind, work_order_id, payload, idempotency_key, base_version, state, held, "
        "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8)");
    if (!insert) return insert.error();
    insert->bind(1, result.writeId)
        .bind(2, op.kind)
        .bind(3, write.workOrderId)
        .bind(4, op.payload.dump())
        .bind(5, recorded.idempotencyKey)
        .bind(6, op.baseVersion)
        .bind(7, held ? 1 : 0)
        .bind(8, now);
    if (auto r = insert->run(); !r) return r.error();
    recorded.id = db.lastInsertId();
    for (std::int64_t dep : deps) {
      auto link = db.prepare("INSERT OR IGNORE INTO outbox_deps (op_id, depends_on) VALUES (?1, ?2)");
      if (!link) return link.error();
      if (auto r = link->bind(1, recorded.id).bind(2, dep).run(); !r) return r.error();
    }
    result.operations.push_back(std::move(recorded));
  }

  for (const auto& adj : write.stock) {
    auto line = db.prepare(
        "INSERT OR IGNORE INTO stock (warehouse_id, part_number, bin, quantity, doc, cached_at) "
        "VALUES (?1, ?2, ?3, 0, ?4, ?5)");
    if (!line) return line.error();
    const Json placeholder = {
        {"warehouseId", adj.warehouseId}, {"partNumber", adj.partNumber}, {"bin", adj.bin}, {"quantityOnHand", 0}};
    line->bind(1, adj.warehouseId).bind(2, adj.partNumber).bind(3, adj.bin).bind(4, placeholder.dump()).bind(5, now);
    if (auto r = line->run(); !r) return r.error();
    auto insert = db.prepare(
        "INSERT INTO stock_adjustments (write_id, warehouse_id, part_number, bin, delta) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert) return insert.error();
    insert->bind(1, result.writeId)
        .bind(2, adj.warehouseId)
        .bind(3, adj.partNumber)
        .bind(4, adj.bin)
        .bind(5, adj.delta);
    if (auto r = insert->run(); !r) return r.error();
  }

  for (const auto& att : write.attachments) {
    auto insert = db.prepare(
        "INSERT INTO attachments (id, write_id, work_order_id, kind, file_name, content_type, size_bytes, sha256, "
        "state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'stored', ?9)");
    if (!insert) return insert.error();
    insert->bind(1, att.id)
        .bind(2, result.writeId)
        .bind(3, write.workOrderId)
        .bind(4, att.spec.kind)
        .bind(5, att.spec.fileName)
        .bind(6, att.spec.contentType)
        .bind(7, static_cast<std::int64_t>(att.sizeBytes))
        .bind(8, att.sha256)
        .bind(9, now);
    if (auto r = insert->run(); !r) return r.error();
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
