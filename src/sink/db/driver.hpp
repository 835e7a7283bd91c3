#pragma once
// The plugin interface of database sinks. A database kind (sqlite, postgres, mariadb, clickhouse,
// ...) implements a Driver and its Session: how to connect, the store's column types, and how to
// run each step of a landing on one connection. The framework (DbSink, db_sink.hpp) owns
// everything else: buffering and batching, the order of the steps inside a transaction, retries
// with reconnects, table creation, schema drift, markers, write modes and checks.
//
// A landing (one Sink::commit) runs these steps on one Session, the framework deciding which:
//
//   begin()
//   delete_all(t) | delete_scope(t, scope)...     replace mode
//   write_rows(t, batch, begin, end)...           every buffered row, batch_size rows per call
//   finish_rows(t)                                e.g. PostgreSQL: merge the COPY'd stage table
//   write_markers(markers)                        the _finsync_landed rows of this commit
//   (checkpoint writer)                           exactly-once, when the state store is here
//   commit()
//
// On an error of kind transient (the connection broke, the server restarts, a serialization
// failure or deadlock) the framework drops the session, reconnects with backoff and re-runs the
// whole landing, after asking committed(commit_id) whether a commit whose outcome was unknown
// did land. Any other kind ends the commit with that error.
//
// Error kinds a Session returns: transient (as above), auth (bad credentials or privileges),
// unreachable (connect() only: no server there), invalid_input (a value or statement the store
// rejects for its content, e.g. a constraint), permanent (anything else). Messages name the
// store (Driver::where()) and never contain a password.
//
// Stores without transactions (Capabilities::transactions false) get begin/commit calls too and
// may treat them as no-ops; their markers are written after the rows, so a crash in between
// re-lands the task (harmless in upsert mode; ClickHouse's ReplacingMergeTree makes it harmless
// in every mode).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"
#include "sink/schema_diff.hpp"
#include "sink/sink.hpp"

namespace finsync::sink::db {

// Per symbol, the days a table holds rows on (Sink::landed_days).
using LandedDays = std::map<std::string, std::vector<int32_t>>;

struct Capabilities {
  bool transactions = true;   // rows, markers and a checkpoint commit atomically
  bool multi_writer = false;  // several processes may land into one table at once
  // NaN and +-Infinity in float64 columns: stored as such when true, rejected when false.
  bool non_finite_doubles = true;
};

// Inclusive ranges of values the store's column types hold. A value outside is rejected before
// anything is sent ("row 17, column trade_date: 1969-12-31 is before 1970-01-01, the first day a
// ClickHouse Date holds"), never clamped.
struct ValueLimits {
  int32_t min_day = INT32_MIN, max_day = INT32_MAX;        // date columns, days since 1970-01-01
  int64_t min_micros = INT64_MIN, max_micros = INT64_MAX;  // timestamp columns, µs since epoch
  // Timestamps must be a multiple of this many µs (ClickHouse: 1000, whole milliseconds); a
  // finer value is rejected, never truncated.
  int64_t micros_step = 1;
  std::string date_range, timestamp_range;  // for messages: "0001-01-01..9999-12-31"
};

// The table the framework lands into: the plan's schema and each column's store type.
struct TableDesign {
  std::string name;  // unqualified; a session adds its schema or database
  Schema schema;
  std::vector<std::string> types;  // Driver::column_type (key_column_type) of each field
  std::vector<std::string> key;    // the endpoint's primary key; these columns are NOT NULL
  bool unique_key = true;          // false in append mode: key columns NOT NULL, no constraint
  std::string time_column;
  WriteMode mode = WriteMode::upsert;
  int field_index(std::string_view column) const { return schema.index_of(column); }
};

// One row of _finsync_landed. Its key is (plan, task_id, page); writing it again replaces it.
struct Marker {
  std::string plan;
  std::string task_id;
  std::string window;
  int page = 0;
  int64_t rows = 0;
  std::string commit_id;  // the landing that wrote it: answers committed() after a lost COMMIT
  TimePoint landed_at{};
};

// One connection to the store. The framework calls it from one thread at a time and keeps at
// most one transaction open on it.
class Session {
 public:
  virtual ~Session() = default;

  // e.g. "PostgreSQL 15.6 (Debian 15.6-0+deb12u1)".
  virtual Result<std::string> server_version() = 0;
  // The table as the store has it; nullopt when there is none.
  virtual Result<std::optional<TableShape>> describe(const std::string& table) = 0;
  // CREATE TABLE IF NOT EXISTS with the design's columns, NOT NULL key columns and (when
  // unique_key) the primary key. Several processes may race here (multi-writer stores).
  virtual Result<void> create_table(const TableDesign& t) = 0;
  // ALTER TABLE ... ADD COLUMN, nullable (schema_drift: evolve).
  virtual Result<void> add_column(const TableDesign& t, const Field& field,
                                  const std::string& type) = 0;
  // Creates _finsync_landed if it is missing.
  virtual Result<void> create_markers() = 0;
  // task_id -> sum of rows of the plan's markers.
  virtual Result<std::map<std::string, int64_t>> landed(const std::string& plan) = 0;
  // Whether a marker with this commit id exists (the landing committed).
  virtual Result<bool> committed(const std::string& commit_id) = 0;

  virtual Result<void> begin() = 0;
  virtual Result<void> commit() = 0;
  // Best effort; after a transient error the framework drops the session anyway.
  virtual void rollback() = 0;

  virtual Result<void> delete_all(const TableDesign& t) = 0;
  virtual Result<void> delete_scope(const TableDesign& t, const Scope& scope) = 0;
  // Rows [begin, end) of `batch`, whose schema equals t.schema (same names, types, order):
  // upserted on the key when t.mode is upsert (or replace with a unique key), else inserted. A
  // key repeated inside one landing keeps the last row written.
  virtual Result<void> write_rows(const TableDesign& t, const RecordBatch& batch, size_t begin,
                                  size_t end) = 0;
  // After the last write_rows of a landing (stores that stage rows merge them here).
  virtual Result<void> finish_rows(const TableDesign& t) = 0;
  virtual Result<void> write_markers(std::span<const Marker> markers) = 0;
  // For `finsync verify`, on an existing table: per value of `symbol_column` ("" when empty),
  // the days (since 1970-01-01, UTC) of t.time_column on which the table holds rows, ascending.
  virtual Result<LandedDays> landed_days(const TableDesign& t, const std::string& symbol_column) {
    (void)t;
    (void)symbol_column;
    return fail(ErrorKind::invalid_input,
                "this sink kind cannot read its rows back for `finsync verify` yet");
  }
};

// The statement landed_days runs, from the store's spelling of each part.
inline std::string landed_days_sql(std::string_view table, std::string_view symbol_expr,
                                   std::string_view day_expr, std::string_view time_column) {
  return "SELECT DISTINCT " + std::string(symbol_expr) + " AS s, " + std::string(day_expr) +
         " AS d FROM " + std::string(table) + " WHERE " + std::string(time_column) +
         " IS NOT NULL ORDER BY s, d";
}

class Driver {
 public:
  virtual ~Driver() = default;

  virtual std::string_view kind() const = 0;  // "postgres"
  // Where the store is, for messages and `sinks check`, with no secret:
  // "127.0.0.1:5432/market (schema public)", "/data/bars.sqlite".
  virtual std::string where() const = 0;
  virtual Capabilities capabilities() const = 0;
  // The store's type for a schema type, as describe() reports it.
  virtual std::string column_type(DataType type) const = 0;
  // The type of a primary-key column; default: column_type. Stores that index only bounded
  // values (a MariaDB key cannot be TEXT) give a bounded type here.
  virtual std::string key_column_type(DataType type) const { return column_type(type); }
  // Whether a type describe() found is the one column_type() gives; default: ignoring case.
  virtual bool same_type(std::string_view expected, std::string_view found) const {
    return same_type_ignoring_case(expected, found);
  }
  virtual ValueLimits limits() const { return {}; }
  virtual int64_t default_batch_size() const = 0;
  // A new connection. Wrong credentials are auth, naming the kind and host, not the password.
  virtual Result<std::unique_ptr<Session>> connect() = 0;
};

}  // namespace finsync::sink::db
