// The Conflicts part: the records a person decides on, and their resolution.
#include <string>
#include <utility>

#include "fieldagent/storage/conflicts.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

using detail::fromMillis;
using detail::toMillis;

namespace {

constexpr const char* kConflictColumns =
    "id, operation_id, work_order_id, field, base, theirs, yours, message, state, resolution, resolution_note, "
    "created_at, resolved_at";

Result<ConflictRecord> readConflict(Statement& row) {
  ConflictRecord c;
  c.id = row.integer(0);
  c.operationId = row.integer(1);
  c.workOrderId = row.text(2);
  c.field = row.text(3);
  const std::string what = "conflict " + std::to_string(c.id);
  for (auto [column, target] : {std::pair{4, &c.base}, std::pair{5, &c.theirs}, std::pair{6, &c.yours}}) {
    if (row.isNull(column)) continue;
    auto parsed = detail::parseStored(row.text(column), what);
    if (!parsed) return parsed.error();
    *target = std::move(parsed).value();
  }
  c.message = row.text(7);
  c.open = row.text(8) == "open";
  c.resolution = row.text(9);
  c.resolutionNote = row.text(10);
  c.createdAt = fromMillis(row.integer(11));
  if (!row.isNull(12)) c.resolvedAt = fromMillis(row.integer(12));
  return c;
}

}  // namespace

Result<std::vector<ConflictRecord>> Conflicts::listConflicts(bool openOnly) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(
      std::string("SELECT ") + kConflictColumns + " FROM conflicts WHERE (?1 = 0 OR state = 'open') ORDER BY id",
      openOnly ? 1 : 0);
  if (!stmt) return stmt.error();
  return stmt->rows(readConflict);
}

Result<ConflictRecord> Conflicts::conflict(std::int64_t id) {
  auto lock = core_.db().lock();
  auto stmt = core_.db().query(std::string("SELECT ") + kConflictColumns + " FROM conflicts WHERE id = ?1", id);
  if (!stmt) return stmt.error();
  auto found = stmt->firstRow(readConflict);
  if (!found) return found.error();
  if (!*found) return makeError("not_found", "conflict " + std::to_string(id) + " does not exist");
  return std::move(**found);
}

Result<void> Conflicts::resolveConflict(std::int64_t id, const ConflictResolution& resolution) {
  return core_.transact([&](Database& db, std::int64_t now) -> Result<void> {
    auto stmt = db.query("SELECT operation_id, state FROM conflicts WHERE id = ?1", id);
    if (!stmt) return stmt.error();
    auto found = stmt->firstRow([](Statement& row) { return std::pair{row.integer(0), row.text(1)}; });
    if (!found) return found.error();
    if (!*found) return makeError("not_found", "conflict " + std::to_string(id) + " does not exist");
    if ((*found)->second != "open") return makeError("wrong_state", "conflict " + std::to_string(id) + " is resolved");
    const std::int64_t opId = (*found)->first;
    std::string name;
    const std::optional<std::string> newBase =
        resolution.newBaseVersion.empty() ? std::nullopt : std::optional<std::string>(resolution.newBaseVersion);
    switch (resolution.choice) {
      case ConflictChoice::keepMine:
        name = "keep_mine";
        if (auto r = detail::moveOp(db, opId, detail::requeueMove(core_.entropy, newBase, std::nullopt), now); !r) {
          return r;
        }
        break;
      case ConflictChoice::takeTheirs:
        name = "take_theirs";
        if (auto r = detail::archiveOp(db, opId, now, std::nullopt); !r) return r;
        break;
      case ConflictChoice::edit:
        name = "edit";
        if (!resolution.newPayload) return makeError("invalid", "resolving by edit needs the edited payload");
        if (auto r = detail::moveOp(db, opId, detail::requeueMove(core_.entropy, newBase, resolution.newPayload), now);
            !r) {
          return r;
        }
        break;
    }
    return db.run(
        "UPDATE conflicts SET state = 'resolved', resolution = ?2, resolution_note = ?3, resolved_at = ?4 "
        "WHERE id = ?1",
        id, name, resolution.note, now);
  });
}

}  // namespace fieldagent::storage
