#pragma once
// The database's schema version. The store migrates a file to kSchemaVersion when it opens it;
// a file from a newer agent is refused ("schema_too_new") rather than guessed at.
#include <filesystem>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::storage {

constexpr int kSchemaVersion = 2;

// Applies the migrations up to `targetVersion` (1..kSchemaVersion) to the database file,
// creating it if needed, and returns the version it is now at. Store::open does this itself;
// this entry exists for tests and support tools that need a file of an earlier version.
Result<int> migrateDatabaseFile(const std::filesystem::path& path, int targetVersion);

}  // namespace fieldagent::storage
