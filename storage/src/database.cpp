#include "database.hpp"

#include <string>

#include "fieldagent/storage/tuning.hpp"

namespace fieldagent::storage {

Error sqliteError(int rc, std::string_view context, sqlite3* db) {
  const int primary = rc & 0xff;
  ErrorCode code;
  switch (primary) {
    case SQLITE_FULL:
      code = "no_space";
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = "corrupt";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = "busy";
      break;
    case SQLITE_CONSTRAINT:
      code = "constraint";
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = "io";
      break;
    default:
      code = "db";
  }
  std::string message(context);
  message += ": ";
  message += db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return makeError(code, std::move(message));
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (bindError_ == SQLITE_OK) bindError_ = sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (bindError_ == SQLITE_OK) bindError_ = sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (bindError_ == SQLITE_OK) {
    bindError_ = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view bytes) {
  if (bindError_ == SQLITE_OK)
    bindError_ = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bindNull(int index) {
  if (bindError_ == SQLITE_OK) bindError_ = sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bindNull(index);
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bindNull(index);
}

Result<bool> Statement::step() {
  if (bindError_ != SQLITE_OK) return sqliteError(bindError_, "binding a parameter", db_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(rc, std::string("running ") + sqlite3_sql(stmt_), db_);
}

Result<void> Statement::run() {
  Result<void> outcome;
  while (true) {
    auto more = step();
    if (!more) {
      outcome = more.error();
      break;
    }
    if (!*more) break;
  }
  // Ready to be bound and run again, as loops over rows do.
  sqlite3_reset(stmt_);
  bindError_ = SQLITE_OK;
  return outcome;
}

std::string Statement::text(int column) const {
  const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (bytes == nullptr) return {};
  return std::string(bytes, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> Statement::optionalText(int column) const {
  if (isNull(column)) return std::nullopt;
  return text(column);
}

std::optional<std::int64_t> Statement::optionalInteger(int column) const {
  if (isNull(column)) return std::nullopt;
  return integer(column);
}

Result<std::unique_ptr<Database>> Database::open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqliteError(rc, "cannot open " + path.string(), db);
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(tuning::kBusyTimeout.count()));
  return std::unique_ptr<Database>(new Database(db));
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<void> Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    const std::string what = text.size() > 40 ? text.substr(0, 40) + "..." : text;
    Error error = sqliteError(rc, "running " + what, nullptr);
    error.message = "running " + what + ": " + detail;
    return error;
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return Statement(db_, it->second);
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return sqliteError(rc, "preparing " + std::string(sql), db_);
  cache_.emplace(std::string(sql), stmt);
  return Statement(db_, stmt);
}

Result<Transaction> Transaction::begin(Database& db) {
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r.error();
  return Transaction(db);
}

Transaction::~Transaction() {
  if (open_) (void)db_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
  auto r = db_->exec("COMMIT");
  if (!r) {
    // A failed COMMIT (disk full) leaves the transaction open; roll it back so the connection is
    // usable and nothing of it lands later.
    (void)db_->exec("ROLLBACK");
    open_ = false;
    return r;
  }
  open_ = false;
  return {};
}

}  // namespace fieldagent::storage
