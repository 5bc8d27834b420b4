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
#include <type_traits>
#include <utility>
#include <vector>

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
  Statement& bind(int index, std::nullptr_t) { return bindNull(index); }
  // Binds the values to ?1, ?2, ... in order.
  template <class... Values>
  Statement& bindAll(const Values&... values) {
    int index = 0;
    (bind(++index, values), ...);
    (void)index;
    return *this;
  }

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

  // The row helper. `read(row)` turns the current row into a value (a T, or a Result<T> when
  // reading can fail, e.g. stored JSON that does not parse); an error from stepping or from
  // `read` stops the walk and is returned.
  //   rows(read):     every row left, in order
  //   firstRow(read): the first row, nothing when there is none
  template <class Read>
  auto rows(Read&& read);
  template <class Read>
  auto firstRow(Read&& read);

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
  // Prepares `sql` with the values bound to ?1, ?2, ...; a query's rows are then read with the
  // row helper (Statement::rows, Statement::firstRow).
  template <class... Values>
  Result<Statement> query(std::string_view sql, const Values&... values) {
    auto stmt = prepare(sql);
    if (!stmt) return stmt.error();
    stmt->bindAll(values...);
    return stmt;
  }
  // Whether the query returns a row.
  template <class... Values>
  Result<bool> exists(std::string_view sql, const Values&... values) {
    auto stmt = query(sql, values...);
    if (!stmt) return stmt.error();
    return stmt->step();
  }
  // Prepares, binds and runs a statement that returns no rows.
  template <class... Values>
  Result<void> run(std::string_view sql, const Values&... values) {
    auto stmt = query(sql, values...);
    if (!stmt) return stmt.error();
    return stmt->run();
  }
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

namespace detail {

template <class T>
struct RowValue {
  using type = T;
  static Result<T> wrap(T value) { return value; }
};
template <class T>
struct RowValue<Result<T>> {
  using type = T;
  static Result<T> wrap(Result<T> value) { return value; }
};
template <class Read>
using RowType = RowValue<std::invoke_result_t<Read&, Statement&>>;

}  // namespace detail

template <class Read>
auto Statement::rows(Read&& read) {
  using Value = detail::RowType<Read>;
  std::vector<typename Value::type> out;
  while (true) {
    auto more = step();
    if (!more) return Result<decltype(out)>(more.error());
    if (!*more) break;
    auto value = Value::wrap(read(*this));
    if (!value) return Result<decltype(out)>(value.error());
    out.push_back(std::move(value).value());
  }
  return Result<decltype(out)>(std::move(out));
}

template <class Read>
auto Statement::firstRow(Read&& read) {
  using Value = detail::RowType<Read>;
  using Out = std::optional<typename Value::type>;
  auto more = step();
  if (!more) return Result<Out>(more.error());
  if (!*more) return Result<Out>(Out{});
  auto value = Value::wrap(read(*this));
  // Done with it: no cursor stays open on the table while the caller goes on to write to it.
  sqlite3_reset(stmt_);
  if (!value) return Result<Out>(value.error());
  return Result<Out>(Out{std::move(value).value()});
}

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
