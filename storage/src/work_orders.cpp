// The WorkOrders part: upstream's copies in, the technician's view out, release.
#include <string>
#include <utility>

#include "fieldagent/storage/work_orders.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

Result<WorkOrder> readWorkOrder(Statement& row) {
  WorkOrder wo;
  wo.workOrderId = row.text(0);
  auto doc = detail::parseStored(row.text(1), "work order " + wo.workOrderId);
  if (!doc) return doc.error();
  wo.doc = std::move(doc).value();
  auto server = detail::parseStored(row.text(2), "server copy of work order " + wo.workOrderId);
  if (!server) return server.error();
  wo.serverDoc = std::move(server).value();
  wo.etag = row.text(3);
  wo.serverUpdatedAt = row.text(4);
  wo.hasLocalChanges = row.integer(5) != 0;
  wo.detached = row.integer(6) != 0;
  return wo;
}

constexpr const char* kWorkOrderColumns =
    "work_order_id, doc, server_doc, etag, server_updated_at, has_local, detached";
// A list's columns: the view's text and its bookkeeping, no server copy.
constexpr const char* kWorkOrderListColumns = "work_order_id, doc, etag, server_updated_at, has_local, detached";

}  // namespace

Result<void> WorkOrders::upsertWorkOrder(const ServerWorkOrder& workOrder) { return upsertWorkOrders({workOrder}); }

Result<void> WorkOrders::upsertWorkOrders(const std::vector<ServerWorkOrder>& workOrders) {
  for (std::size_t i = 0; i < workOrders.size(); ++i) {
    const auto& doc = workOrders[i].doc;
    if (!doc.is_object() || detail::stringField(doc, "workOrderId").empty()) {
      return makeError("invalid", "work order " + std::to_string(i + 1) + " of " + std::to_string(workOrders.size()) +
                                      " has no string workOrderId; nothing of the batch was stored");
    }
  }
  return core_.transact([&](Database& db, std::int64_t now) { return detail::storeServerCopies(db, workOrders, now); });
}

Result<WorkOrder> WorkOrders::workOrder(const std::string& workOrderId) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(
      std::string("SELECT ") + kWorkOrderColumns + " FROM work_orders WHERE work_order_id = ?1", workOrderId);
  if (!stmt) return stmt.error();
  auto found = stmt->firstRow(readWorkOrder);
  if (!found) return found.error();
  if (!*found) return makeError("not_found", "work order " + workOrderId + " is not in the offline cache");
  return std::move(**found);
}

Result<std::optional<std::string>> WorkOrders::serverUpdatedAt(const std::string& workOrderId) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query("SELECT server_updated_at FROM work_orders WHERE work_order_id = ?1", workOrderId);
  if (!stmt) return stmt.error();
  return stmt->firstRow(detail::textColumn);
}

Result<Page<WorkOrder>> WorkOrders::listWorkOrders(const WorkOrderQuery& query) {
  auto rows = listWorkOrderRows(query);
  if (!rows) return rows.error();
  Page<WorkOrder> page;
  page.page = rows->page;
  page.pageSize = rows->pageSize;
  page.total = rows->total;
  for (auto& row : rows->items) {
    auto doc = detail::parseStored(row.docText, "work order " + row.workOrderId);
    if (!doc) return doc.error();
    WorkOrder wo;
    wo.workOrderId = std::move(row.workOrderId);
    wo.doc = std::move(doc).value();
    wo.etag = std::move(row.etag);
    wo.serverUpdatedAt = std::move(row.serverUpdatedAt);
    wo.hasLocalChanges = row.hasLocalChanges;
    wo.detached = row.detached;
    page.items.push_back(std::move(wo));
  }
  return page;
}

Result<Page<WorkOrderRow>> WorkOrders::listWorkOrderRows(const WorkOrderQuery& query) {
  if (auto r = detail::validatePaging(query.page, query.pageSize); !r) return r.error();
  std::string where = " WHERE 1 = 1";
  int next = 1;
  // Text and integer parameters in two lists (a std::variant here trips gcc 12's
  // maybe-uninitialized warning in the aarch64 release build).
  std::vector<std::pair<int, std::string>> texts;
  std::vector<std::pair<int, std::int64_t>> numbers;
  const auto addText = [&](const char* clause, const std::optional<std::string>& value) {
    if (!value) return;
    where += clause;
    where += std::to_string(next);
    texts.emplace_back(next++, *value);
  };
  const auto addTime = [&](const char* clause, const std::optional<WallTime>& value) {
    if (!value) return;
    where += clause;
    where += std::to_string(next);
    numbers.emplace_back(next++, toMillis(*value));
  };
  addText(" AND customer_id = ?", query.customerId);
  addText(" AND status = ?", query.status);
  if (query.technicianId) {
    where += " AND work_order_id IN (SELECT work_order_id FROM work_order_technicians WHERE technician_id = ?" +
             std::to_string(next) + ")";
    texts.emplace_back(next++, *query.technicianId);
  }
  addTime(" AND sla_due_at >= ?", query.slaDueFrom);
  addTime(" AND sla_due_at <= ?", query.slaDueTo);
  addTime(" AND updated_at >= ?", query.updatedFrom);
  addTime(" AND updated_at <= ?", query.updatedTo);
  const char* order = query.sort == WorkOrderSort::updatedAt ? " ORDER BY updated_at, work_order_id"
                      : query.sort == WorkOrderSort::slaDueAt
                          ? " ORDER BY sla_due_at IS NULL, sla_due_at, work_order_id"
                          : " ORDER BY work_order_id";
  const auto bindAll = [&](Statement& stmt) {
    for (const auto& [index, text] : texts) stmt.bind(index, text);
    for (const auto& [index, number] : numbers) stmt.bind(index, number);
  };

  auto lock = core_.db().lock();
  Page<WorkOrderRow> page;
  page.page = query.page;
  page.pageSize = query.pageSize;
  {
    auto count = core_.db().prepare("SELECT COUNT(*) FROM work_orders" + where);
    if (!count) return count.error();
    bindAll(*count);
    auto total = count->firstRow(detail::integerColumn);
    if (!total) return total.error();
    page.total = total->value_or(0);
  }
  auto stmt = core_.db().prepare(std::string("SELECT ") + kWorkOrderListColumns + " FROM work_orders" + where + order +
                                 " LIMIT ?" + std::to_string(next) + " OFFSET ?" + std::to_string(next + 1));
  if (!stmt) return stmt.error();
  bindAll(*stmt);
  stmt->bind(next, query.pageSize)
      .bind(next + 1, static_cast<std::int64_t>(query.page - 1) * static_cast<std::int64_t>(query.pageSize));
  auto items = stmt->rows([](Statement& row) {
    WorkOrderRow wo;
    wo.workOrderId = row.text(0);
    wo.docText = row.text(1);
    wo.etag = row.text(2);
    wo.serverUpdatedAt = row.text(3);
    wo.hasLocalChanges = row.integer(4) != 0;
    wo.detached = row.integer(5) != 0;
    return wo;
  });
  if (!items) return items.error();
  page.items = std::move(items).value();
  return page;
}

Result<std::vector<std::string>> WorkOrders::workOrderIds() {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query("SELECT work_order_id FROM work_orders ORDER BY work_order_id");
  if (!stmt) return stmt.error();
  return stmt->rows(detail::textColumn);
}

Result<ReleaseOutcome> WorkOrders::releaseWorkOrder(const std::string& workOrderId) {
  return core_.transact([&](Database& db, std::int64_t) -> Result<ReleaseOutcome> {
    auto exists = detail::workOrderExists(db, workOrderId);
    if (!exists) return exists.error();
    if (!*exists) return ReleaseOutcome::notCached;
    auto live = db.exists("SELECT 1 FROM outbox WHERE work_order_id = ?1 AND state NOT IN ('done', 'archived') LIMIT 1",
                          workOrderId);
    if (!live) return live.error();
    if (*live) {
      if (auto r = db.run("UPDATE work_orders SET detached = 1 WHERE work_order_id = ?1", workOrderId); !r) {
        return r.error();
      }
      return ReleaseOutcome::keptForLocalWork;
    }
    if (auto r = db.run("DELETE FROM work_orders WHERE work_order_id = ?1", workOrderId); !r) return r.error();
    // Its finished local changes were for this copy only; a later copy starts clean.
    if (auto r = db.run("UPDATE local_writes SET active = 0 WHERE work_order_id = ?1 AND active = 1", workOrderId);
        !r) {
      return r.error();
    }
    return ReleaseOutcome::removed;
  });
}

}  // namespace fieldagent::storage
