#pragma once
// The three built-in sinks share one implementation: rows land in a DuckDB table first.
//
//   duckdb   the table in SinkSpec::path (empty: the workspace staging store) is the output.
//   parquet  rows are staged in the staging store; every partition a commit touched is recorded
//   csv      in _finsync_dirty and close()/materialize() rewrites those partitions' files whole,
//            each through a temp file + rename, so files never depend on how tasks were cut.
//
// Bookkeeping tables, in the same DuckDB file as the data table:
//   _finsync_landed(plan, task_id, "window", page, rows, landed_at)  one row per committed page
//   _finsync_dirty(sink, tbl, "partition")  file partitions not yet rewritten (file sinks)
#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sink/duckdb_store.hpp"
#include "sink/sink.hpp"

namespace finsync::sink {

enum class StagingKind { duckdb, parquet, csv };

class StagingSink final : public Sink {
 public:
  // Use make_staging_sink(), which validates the spec.
  StagingSink(StagingKind kind, SinkSpec spec, SinkContext ctx, std::string store_path,
              std::string output_dir);
  ~StagingSink() override;

  Result<void> open(const TableSpec& table) override;
  Result<void> write(const RecordBatch& batch) override;
  using Sink::commit;
  Result<void> commit(std::span<const Checkpoint> checkpoints) override;
  Result<void> rollback() override;
  Result<std::map<std::string, int64_t>> landed_tasks(const std::string& plan) override;
  Result<SinkStats> close() override;
  Result<void> health() override;
  Result<SinkCheck> check(const TableSpec& table) override;
  // A DuckDB file has one writer process.
  bool multi_writer() const override { return false; }
  // Read from the staging table, which the files are written from.
  Result<std::map<std::string, std::vector<int32_t>>> landed_days(
      const TableSpec& table, const std::string& symbol_column) override;

  // File sinks: rewrites every dirty partition's file now and clears its dirty row (close() does
  // this too). The duckdb sink has nothing to materialize and returns zero stats.
  Result<SinkStats> materialize();

  StagingKind kind() const { return kind_; }
  // Absolute path of the DuckDB file holding the table and the bookkeeping tables.
  const std::string& store_path() const { return store_path_; }
  // File sinks: absolute output directory (known after open() when SinkSpec::path is empty).
  const std::string& output_dir() const { return output_dir_; }
  // The value this sink writes to _finsync_dirty.sink: "parquet:<dir>" / "csv:<dir>".
  std::string dirty_key() const;

 private:
  Result<void> ensure_store();
  Result<void> create_tables();
  Result<void> ensure_buffer();
  void drop_appender();
  // Dates and timestamps outside years 1-9999 are refused before anything is buffered.
  Result<void> check_values(const RecordBatch& batch, const std::vector<int>& map) const;
  Result<void> append_batch(const RecordBatch& batch, const std::vector<int>& map);
  enum class InsertKind { plain, replace };
  Result<void> commit_locked(std::span<const Checkpoint> cps, int64_t rows, InsertKind how,
                             duckdb_error_type* error_type);
  Result<SinkStats> materialize_locked();
  std::string partition_key_sql(const std::string& alias) const;
  std::string columns_sql(const std::string& alias) const;
  // The files' columns: the schema's, then those the table keeps that the schema lacks.
  std::string file_columns_sql(const std::string& alias) const;
  // _finsync_outputs.layout: partition expressions and file columns; a change rewrites every file.
  std::string layout_key() const;
  // replace: partition: a landing deletes the rows its tasks own (Checkpoint::scope) first.
  bool by_partition() const {
    return mode_ == WriteMode::replace && spec_.replace == ReplaceScope::partition;
  }
  // The WHERE condition selecting a scope's rows.
  Result<std::string> scope_sql(const Scope& scope) const;
  bool keyed() const { return mode_ != WriteMode::append && !table_.primary_key.empty(); }
  std::string order_sql() const;
  Error wrap(const Error& e, std::string_view what) const;
  std::string target() const;

  StagingKind kind_;
  SinkSpec spec_;
  SinkContext ctx_;
  std::string store_path_;
  std::string output_dir_;

  TableSpec table_;
  WriteMode mode_ = WriteMode::upsert;
  bool opened_ = false;
  bool replaced_ = false;      // replace mode: the table was emptied for this plan already
  bool overlap_seen_ = false;  // a commit hit existing keys: use INSERT OR REPLACE from now on
  std::vector<std::string> partition_exprs_;  // SQL per partition_by entry, over unqualified cols
  std::vector<std::string> partition_names_;  // directory names: column name or "year"
  std::vector<std::string> extra_columns_;    // in the table, not in the schema (evolve)
  int64_t columns_added_ = 0;

  duck::Connection con_;
  bool buffer_ready_ = false;
  std::string buffer_ddl_;  // creates the write buffer, empty
  duckdb_appender appender_ = nullptr;
  int64_t buffered_rows_ = 0;
  bool poisoned_ = false;  // a write() failed part-way: the buffer holds part of a batch
  int64_t seq_ = 0;
};

// Builds a sink of `kind` after checking the spec (paths are resolved, nothing is opened yet).
Result<std::unique_ptr<StagingSink>> make_staging_sink(StagingKind kind, const SinkSpec& spec,
                                                       const SinkContext& ctx);

// Hive-style directory component for a partition value: bytes outside [A-Za-z0-9._~-] become
// %XX (so '/' can never create a directory), a NULL value is "NULL" (as DuckDB writes it).
std::string escape_partition_value(const std::optional<std::string>& value);

}  // namespace finsync::sink
