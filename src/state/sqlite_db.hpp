#pragma once
// Thin RAII layer over the SQLite3 C API: a connection that owns a cache of prepared statements,
// a borrowed statement handle that resets itself, and an IMMEDIATE transaction guard. Internal to
// the state module.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "core/error.hpp"

namespace finsync::state::sqlite {

// What the caller should do about an SQLite result code (busy/locked: retry; constraint or a file
// that is not a database: the input is wrong; anything else: internal).
ErrorKind error_kind(int rc);

// A prepared statement borrowed from the connection's cache. Bindings are copied into SQLite
// (except bind_unowned); on destruction the statement is reset and its bindings cleared, which also
// ends the implicit read transaction of a SELECT.
class Query {
 public:
  // Errors read "<label>: <op>: <sqlite message>"; both strings must outlive the query.
  Query(sqlite3_stmt* stmt, const std::string& label, std::string_view op)
      : stmt_(stmt), label_(&label), op_(op) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&& o) noexcept : stmt_(o.stmt_), label_(o.label_), op_(o.op_), bind_rc_(o.bind_rc_) {
    o.stmt_ = nullptr;
  }
  Query& operator=(Query&&) = delete;
  ~Query();

  // Parameters are 1-based, as in SQLite.
  Query& bind(int i, int64_t v);
  Query& bind(int i, std::string_view v);
  Query& bind(int i, std::optional<int64_t> v);  // nullopt binds NULL
  // Not copied: the bytes must stay valid until the statement has run.
  Query& bind_unowned(int i, std::string_view v);

  // true: a row is ready; false: the statement is done.
  Result<bool> step();
  // Steps to completion; the statement must not return rows.
  Result<void> run();

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const;

 private:
  Error error(int rc) const;

  sqlite3_stmt* stmt_;
  const std::string* label_;
  std::string_view op_;
  int bind_rc_ = SQLITE_OK;
};

class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  ~Db();

  // Opens (creating if missing) a read-write connection. `label` names the database in errors.
  static Result<Db> open(const std::string& path, std::string label);

  sqlite3* get() const { return db_; }
  const std::string& label() const { return label_; }

  // Runs one or more statements that return no rows worth reading (DDL, pragmas).
  Result<void> exec(const char* sql, std::string_view op);
  // The cached prepared statement for `sql`, compiled on first use. `op` (a literal) names the
  // operation in errors.
  Result<Query> query(std::string_view sql, std::string_view op);
  int64_t changes() const { return sqlite3_changes64(db_); }

  // "<label>: <op>: <sqlite message>" classified by error_kind(rc).
  Error error(int rc, std::string_view op) const;

 private:
  void close();

  sqlite3* db_ = nullptr;
  std::string label_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a write
// transaction never fails half-way on a lock upgrade. Rolls back unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db, std::string_view op);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& o) noexcept : db_(o.db_), op_(o.op_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  Transaction(Db& db, std::string_view op) : db_(&db), op_(op) {}
  Db* db_;
  std::string_view op_;
};

}  // namespace finsync::state::sqlite
