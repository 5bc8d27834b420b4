#pragma once
// A thin layer over SQLite for the sim's state: cached prepared statements and scoped
// transactions. Failures throw SqlError; the simulator turns them into 500 answers.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fieldagent::sim {

class SqlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void reset();
  void bind(int index, std::string_view text);
  void bind(int index, const std::string& text) { bind(index, std::string_view(text)); }
  void bind(int index, const char* text) { bind(index, std::string_view(text)); }
  void bind(int index, std::int64_t value);
  void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
  void bind(int index, double value);
  void bind(int index, std::nullopt_t);
  void bind(int index, const std::optional<std::string>& value);

  // True while a row is available.
  bool step();
  std::string text(int column) const;
  std::int64_t integer(int column) const;
  double real(int column) const;
  bool isNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  explicit Database(const std::filesystem::path& file);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  std::int64_t changes() const;

  // A cached statement, reset and bound to `args` in order.
  template <class... Args>
  Statement& run(const std::string& sql, const Args&... args) {
    Statement& st = cached(sql);
    st.reset();
    int index = 1;
    (st.bind(index++, args), ...);
    return st;
  }

  // Runs a statement that returns no rows (or ignores them).
  template <class... Args>
  void write(const std::string& sql, const Args&... args) {
    Statement& st = run(sql, args...);
    while (st.step()) {
    }
  }

  // The first column of the first row, if there is a row.
  template <class... Args>
  std::optional<std::int64_t> scalar(const std::string& sql, const Args&... args) {
    Statement& st = run(sql, args...);
    if (!st.step() || st.isNull(0)) return std::nullopt;
    return st.integer(0);
  }

  // A statement built at run time (dynamic WHERE clauses); not cached.
  std::unique_ptr<Statement> prepare(std::string_view sql);

 private:
  Statement& cached(const std::string& sql);
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

// BEGIN IMMEDIATE now; ROLLBACK at destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace fieldagent::sim
