#pragma once
// Deterministic test data: the same `--seed N` always yields the same records, and the seed
// document's example records are always among them so its curl examples work.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sqlite_db.hpp"

namespace fieldagent::sim {

// Fills an empty database (inside the caller's transaction) with `workOrders` work orders and
// the customers, sites, assets, contracts, parts, stock and technicians around them. Returns the
// technician ids, tech_45af1d first.
std::vector<std::string> generateData(Database& db, const std::filesystem::path& uploadsDir, std::int64_t workOrders,
                                      int technicians);

}  // namespace fieldagent::sim
