#pragma once
// One interface for every destination. The engine calls, for each task:
// write(batch)... then commit(checkpoint). commit makes the task's rows durable together with a
// landed-marker (task id, window, page, rows) and then calls checkpoint.persist(), which is the
// only way a task's checkpoint reaches the state store.
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::sink {

enum class WriteMode { append, replace, upsert };
std::string_view to_string(WriteMode m);

// What the plan's `sink:` block says, after ${VAR} expansion.
struct SinkSpec {
  std::string kind;   // duckdb | parquet | csv
  std::string path;   // file or directory; empty = the workspace default
  std::string table;  // table name; default: the endpoint name
  WriteMode mode = WriteMode::upsert;
  std::vector<std::string> partition_by;  // file sinks: columns, or "year" of the time column
};

// Where a sink lives in the workspace.
struct SinkContext {
  std::string data_dir;      // workspace data directory
  std::string staging_path;  // the embedded DuckDB staging store (also the default duckdb sink)
};

struct TableSpec {
  std::string plan;
  std::string table;
  Schema schema;
  std::vector<std::string> primary_key;
  std::string time_column;  // date/timestamp column, used for "year" partitions
  WriteMode mode = WriteMode::upsert;
};

struct Checkpoint {
  std::string task_id;
  std::string window;  // human readable, e.g. "20150101-20241231"
  int page = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  std::function<Result<void>()> persist;
};

struct SinkStats {
  int64_t files_written = 0;
  int64_t partitions_materialized = 0;
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
};

using SinkFactory =
    std::function<Result<std::unique_ptr<Sink>>(const SinkSpec&, const SinkContext&)>;

}  // namespace finsync::sink
