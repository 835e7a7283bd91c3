#include "state/sqlite_db.hpp"

#include <utility>

namespace finsync::state::sqlite {

ErrorKind error_kind(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::transient;
    case SQLITE_CONSTRAINT:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return ErrorKind::invalid_input;
    default:
      return ErrorKind::internal;
  }
}

// ---- Query

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind(int i, std::string_view v) {
  // A null data pointer would bind SQL NULL; an empty string_view must stay ''.
  const char* data = v.data() != nullptr ? v.data() : "";
  int rc = sqlite3_bind_text64(stmt_, i, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind_unowned(int i, std::string_view v) {
  const char* data = v.data() != nullptr ? v.data() : "";
  int rc = sqlite3_bind_text64(stmt_, i, data, v.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Query& Query::bind(int i, std::optional<int64_t> v) {
  if (v) return bind(i, *v);
  int rc = sqlite3_bind_null(stmt_, i);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Query::step() {
  if (bind_rc_ != SQLITE_OK) return tl::unexpected(error(bind_rc_));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(error(rc));
}

Result<void> Query::run() {
  auto r = step();
  if (!r) return tl::unexpected(r.error());
  if (*r) {
    return fail(ErrorKind::internal, *label_ + ": " + std::string(op_) + ": unexpected result row");
  }
  return {};
}

std::string Query::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Error Query::error(int rc) const {
  std::string msg = *label_;
  msg += ": ";
  msg += op_;
  msg += ": ";
  // A bind error is reported before any step; the connection's message is about the step.
  msg += bind_rc_ != SQLITE_OK ? sqlite3_errstr(rc) : sqlite3_errmsg(sqlite3_db_handle(stmt_));
  return Error{error_kind(rc), std::move(msg), std::nullopt};
}

// ---- Db

Db::Db(Db&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), label_(std::move(o.label_)), cache_(std::move(o.cache_)) {
  o.cache_.clear();
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = std::exchange(o.db_, nullptr);
    label_ = std::move(o.label_);
    cache_ = std::move(o.cache_);
    o.cache_.clear();
  }
  return *this;
}

Db::~Db() {
  close();
}

void Db::close() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
  if (db_ != nullptr) sqlite3_close(db_);
  db_ = nullptr;
}

Result<Db> Db::open(const std::string& path, std::string label) {
  Db db;
  db.label_ = std::move(label);
  // The store serialises calls itself, so the connection needs no mutex of its own.
  int rc =
      sqlite3_open_v2(path.c_str(), &db.db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    if (db.db_ == nullptr) {
      return fail(error_kind(rc), db.label_ + ": open: " + sqlite3_errstr(rc));
    }
    return tl::unexpected(db.error(rc, "open"));
  }
  return db;
}

Result<void> Db::exec(const char* sql, std::string_view op) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  std::string msg =
      label_ + ": " + std::string(op) + ": " + (err != nullptr ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  return fail(error_kind(rc), std::move(msg));
}

Result<Query> Db::query(std::string_view sql, std::string_view op) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return tl::unexpected(error(rc, op));
    }
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return Query(it->second, label_, op);
}

Error Db::error(int rc, std::string_view op) const {
  std::string msg = label_;
  msg += ": ";
  msg += op;
  msg += ": ";
  msg += db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Error{error_kind(rc), std::move(msg), std::nullopt};
}

// ---- Transaction

Result<Transaction> Transaction::begin(Db& db, std::string_view op) {
  auto q = db.query("BEGIN IMMEDIATE", op);
  if (!q) return tl::unexpected(q.error());
  if (auto r = q->run(); !r) return tl::unexpected(r.error());
  return Transaction(db, op);
}

Transaction::~Transaction() {
  // Some errors (busy, I/O, full) already rolled the transaction back.
  if (db_ != nullptr && sqlite3_get_autocommit(db_->get()) == 0) {
    if (auto q = db_->query("ROLLBACK", op_)) (void)q->run();
  }
}

Result<void> Transaction::commit() {
  auto q = db_->query("COMMIT", op_);
  if (!q) return tl::unexpected(q.error());
  if (auto r = q->run(); !r) return r;
  db_ = nullptr;
  return {};
}

}  // namespace finsync::state::sqlite
