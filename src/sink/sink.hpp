#pragma once
// One interface for every destination. The engine calls, for each task:
// write(batch)... then commit(checkpoint). commit makes the task's rows durable together with a
// landed-marker (task id, window, page, rows) and then calls checkpoint.persist(), which is the
// only way a task's checkpoint reaches the state store.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::state {
struct Task;
}

namespace finsync::sink {

enum class WriteMode { append, replace, upsert };
std::string_view to_string(WriteMode m);

// `replace` mode: what one landing replaces. table: the whole table, emptied by the first commit
// of a plan definition; partition: the rows each task owns (Checkpoint::scope), deleted in the
// transaction that lands the task's new rows.
enum class ReplaceScope { table, partition };
std::string_view to_string(ReplaceScope s);

// A table that exists with other columns than the plan's schema. fail: open() stops with the
// exact difference. evolve: a field the table lacks becomes a new nullable column; anything else
// (a type change, a key change, a column the table has and the schema lacks that is NOT NULL)
// still fails.
enum class SchemaDrift { fail, evolve };
std::string_view to_string(SchemaDrift d);

// What the plan's `sink:` block says, after ${VAR} expansion. The common keys are fields; the
// keys only some kinds know are in `options`. A kind's factory rejects keys it does not take
// (check_keys in sink/spec_check.hpp), naming where they were written.
struct SinkSpec {
  std::string kind;   // duckdb | parquet | csv | sqlite | postgres | ...
  std::string path;   // file or directory; empty = the workspace default
  std::string table;  // table name; default: the endpoint name
  WriteMode mode = WriteMode::upsert;
  std::vector<std::string> partition_by;  // file sinks: columns, or "year" of the time column
  ReplaceScope replace = ReplaceScope::table;
  // Database sinks.
  std::string dsn;         // URI or keyword/value string; a password in it is percent-encoded
  std::string password;    // its own field (overrides one in the dsn); registered as a secret
  int64_t batch_size = 0;  // rows per round trip to the store; 0 = the kind's default
  SchemaDrift schema_drift = SchemaDrift::fail;
  // Kind-specific keys (postgres `schema`, ...), scalar text as written, ${VAR}s expanded.
  std::map<std::string, std::string> options;
  // Every key the block sets -> "plan.yaml:12:5: sink.dsn". Empty for specs built in code.
  std::map<std::string, std::string> where;
  std::string block;  // where the block itself is: "plan.yaml:9:3: sink"

  // "plan.yaml:12:5: sink.<key>" when known, else "sink.<key>".
  std::string located(std::string_view key) const;
  // The keys this spec sets: `where`'s, plus options and non-default fields for specs built in
  // code.
  std::vector<std::string> keys() const;
};

// Where a sink lives in the workspace.
struct SinkContext {
  std::string data_dir;      // workspace data directory
  std::string staging_path;  // the embedded DuckDB staging store (also the default duckdb sink)
};

struct TableSpec {
  std::string plan;  // landing key: markers are kept per plan definition
  std::string table;
  Schema schema;
  std::vector<std::string> primary_key;
  std::string time_column;  // date/timestamp column, used for "year" partitions
  WriteMode mode = WriteMode::upsert;
};

// The rows a task owns, for `replace: partition`: every row whose `equals` columns hold the
// given values (as text; the sink converts to the column's type) and, when time_column is set,
// whose time column falls on a day in [first_day, last_day] (days since 1970-01-01, UTC).
struct Scope {
  std::vector<std::pair<std::string, std::string>> equals;
  std::string time_column;
  int32_t first_day = 0;
  int32_t last_day = 0;
  bool empty() const { return equals.empty() && time_column.empty(); }
};

struct Checkpoint {
  std::string task_id;
  std::string window;  // human readable, e.g. "20150101-20241231"
  int page = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  Scope scope;
  // Saves the task's checkpoint through the state store's own connection.
  std::function<Result<void>()> persist;
  // The task as persist() saves it. A sink given a checkpoint writer (exactly-once: the state
  // store lives in the sink's own database) writes this inside its landing transaction instead
  // of calling persist(). Null when the engine has no task state to save.
  const state::Task* task = nullptr;
};

struct SinkStats {
  int64_t files_written = 0;
  int64_t partitions_materialized = 0;
  int64_t commits = 0;        // landing transactions that committed
  int64_t reconnects = 0;     // connections re-opened after the store went away
  int64_t retries = 0;        // landing transactions run again after a transient failure
  int64_t columns_added = 0;  // schema_drift: evolve
};

// What `finsync sinks check` reports: the store, the table, and how the table's columns compare
// with the plan's schema.
struct SinkCheck {
  std::string store;   // e.g. "postgres 127.0.0.1:5432/market (schema public)"; no secrets
  std::string server;  // server version, e.g. "PostgreSQL 15.6"
  bool table_exists = false;
  std::vector<std::string> differences;  // empty: the table matches (or will be created)
  std::vector<std::string> notes;        // other facts worth printing (row count, mode, ...)
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Result<void> open(const TableSpec& table) = 0;
  virtual Result<void> write(const RecordBatch& batch) = 0;
  // Lands every row written since the last commit together with one marker per checkpoint, in
  // one transaction, then persists each checkpoint. Several tasks landed at once share the cost
  // of a commit (group commit).
  virtual Result<void> commit(std::span<const Checkpoint> checkpoints) = 0;
  Result<void> commit(const Checkpoint& checkpoint) {
    return commit(std::span<const Checkpoint>(&checkpoint, 1));
  }
  // Drops rows written since the last commit (a task that failed half-way).
  virtual Result<void> rollback() = 0;
  // Tasks whose rows are durably landed for this plan, with the rows each landed: a crash
  // between commit and checkpoint is detected on resume through these, and the recovered
  // checkpoint gets its row count back.
  virtual Result<std::map<std::string, int64_t>> landed_tasks(const std::string& plan) = 0;
  // Brings derived outputs (files) up to date and releases the store.
  virtual Result<SinkStats> close() = 0;
  virtual Result<void> health() = 0;
  // Connects and compares the table with `table` without creating or changing anything.
  virtual Result<SinkCheck> check(const TableSpec& table) = 0;
  // Whether several processes may land into this sink at once (task leases let a second process
  // help). False for single-writer stores: DuckDB files, SQLite, Excel workbooks.
  virtual bool multi_writer() const = 0;
  // For `finsync verify`: per value of `symbol_column` ("" for a table without one), the days
  // (since 1970-01-01, UTC) on which `table` holds rows in its time column, ascending. A kind
  // that cannot read its rows back says so.
  virtual Result<std::map<std::string, std::vector<int32_t>>> landed_days(
      const TableSpec& table, const std::string& symbol_column) {
    (void)table;
    (void)symbol_column;
    return fail(ErrorKind::invalid_input,
                "this sink kind cannot read its rows back for `finsync verify` yet");
  }
};

using SinkFactory =
    std::function<Result<std::unique_ptr<Sink>>(const SinkSpec&, const SinkContext&)>;

}  // namespace finsync::sink
