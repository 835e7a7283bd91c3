#pragma once
// Thin RAII layer over the DuckDB C API, shared by every sink that stages rows in DuckDB.
//
// A DuckDB file has one writer process, and inside a process every sink that uses the same file
// must share one database instance (two instances on one file in one process would corrupt it):
// Database::open() keeps a process-wide cache keyed by the absolute path, so the staging store is
// opened once however many sinks (tables) land into it, and released when the last one closes.
#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace finsync::sink::duck {

// "name" -> "\"name\"" with embedded quotes doubled.
std::string quote_ident(std::string_view name);
// 'text' with embedded quotes doubled (DuckDB string literals have no backslash escapes).
std::string quote_literal(std::string_view text);

class Database {
 public:
  // Opens the store at `path` (created if missing, parent directories too) or shares the instance
  // this process already has open. A file held by another process is ErrorKind::permanent with a
  // message naming the holder's pid when DuckDB reports it.
  static Result<std::shared_ptr<Database>> open(const std::string& path);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  duckdb_database handle() const { return db_; }
  const std::string& path() const { return path_; }
  // Serializes writing transactions and DDL of all sinks sharing this store: DuckDB would
  // otherwise abort one of two concurrent writers with a conflict.
  std::mutex& write_mutex() { return write_mutex_; }

 private:
  Database(std::string path, duckdb_database db) : path_(std::move(path)), db_(db) {}
  std::string path_;
  duckdb_database db_ = nullptr;
  std::mutex write_mutex_;
};

class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(duckdb_result r) : res_(r), valid_(true) {}
  ~QueryResult();
  QueryResult(QueryResult&& o) noexcept;
  QueryResult& operator=(QueryResult&& o) noexcept;
  QueryResult(const QueryResult&) = delete;
  QueryResult& operator=(const QueryResult&) = delete;

  size_t rows();
  size_t columns();
  bool is_null(size_t col, size_t row);
  std::optional<std::string> string_at(size_t col, size_t row);
  int64_t int_at(size_t col, size_t row);

 private:
  duckdb_result res_{};
  bool valid_ = false;
};

class Connection {
 public:
  Connection() = default;
  ~Connection() { reset(); }
  Connection(Connection&& o) noexcept;
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  static Result<Connection> connect(std::shared_ptr<Database> db);

  bool connected() const { return con_ != nullptr; }
  duckdb_connection handle() const { return con_; }
  Database& database() const { return *db_; }
  const std::shared_ptr<Database>& database_ptr() const { return db_; }

  Result<void> exec(const std::string& sql);
  // DuckDB's classification of the last failed query (DUCKDB_ERROR_INVALID when none failed).
  duckdb_error_type last_error_type() const { return last_error_; }
  Result<QueryResult> query(const std::string& sql);
  // Disconnects and drops this connection's reference to the store.
  void reset();

 private:
  std::shared_ptr<Database> db_;
  duckdb_connection con_ = nullptr;
  duckdb_error_type last_error_ = DUCKDB_ERROR_INVALID;
};

// Maps a DuckDB error to a finsync error: write conflicts are transient, everything else
// (constraint violations, conversion failures, I/O) is permanent for the task.
Error duckdb_error(duckdb_error_type type, std::string_view message);

// The error for a store whose lock another process holds, built from DuckDB's message.
Error store_in_use_error(const std::string& path, std::string_view duckdb_message);

}  // namespace finsync::sink::duck
