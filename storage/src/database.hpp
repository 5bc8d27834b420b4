#pragma once
// A thin layer over the sqlite3 C API: one connection, prepared statements cached by their SQL
// text, SQLite's result codes turned into Errors, and transactions as scoped objects.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::storage {

// Maps an SQLite result code to the store's error codes.
Error sqliteError(int rc, std::string_view context, sqlite3* db);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bindError_(other.bindError_) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  // Leaves the cached statement ready for its next user.
  ~Statement() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bindBlob(int index, std::string_view bytes);
  Statement& bindNull(int index);
  // Binds NULL for an empty optional.
  Statement& bind(int index, const std::optional<std::string>& text);
  Statement& bind(int index, const std::optional<std::int64_t>& value);

  // true while a row is available, false when done. Errors from binding surface here too.
  Result<bool> step();
  // Runs to completion, ignoring rows, and resets the statement for its next run.
  Result<void> run();

  bool isNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string text(int column) const;
  std::optional<std::string> optionalText(int column) const;
  std::optional<std::int64_t> optionalInteger(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bindError_ = SQLITE_OK;
};

// One connection and the one lock every part of the store takes for each call (SQLite's own
// locking is off: SQLITE_OPEN_NOMUTEX).
class Database {
 public:
  // Errors: "io", "corrupt", "no_space", "busy".
  static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  // One or more statements without parameters (schema, pragmas).
  Result<void> exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  std::int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  // Held for the whole of a store call, so a call is one transaction nobody interleaves with.
  [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::mutex mutex_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// BEGIN IMMEDIATE on construction (the write lock up front, so a transaction never fails half
// way for want of it); rolled back on destruction unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_), open_(other.open_) { other.open_ = false; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Result<void> commit();

 private:
  explicit Transaction(Database& db) : db_(&db), open_(true) {}
  Database* db_;
  bool open_;
};

}  // namespace fieldagent::storage
