#pragma once
#include <string>

#include "database.hpp"

namespace fieldagent::storage {

// Reads PRAGMA user_version and applies each later migration in its own transaction.
// `where` names the file in errors.
Result<int> migrate(Database& db, int targetVersion, const std::string& where);

}  // namespace fieldagent::storage
