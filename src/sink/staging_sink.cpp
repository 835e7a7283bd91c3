#include "sink/staging_sink.hpp"

#include "sink/schema_diff.hpp"
#include "sink/spec_check.hpp"

#include "core/dates.hpp"
#include "core/failpoint.hpp"
#include "core/percent_encode.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

namespace finsync::sink {

namespace fs = std::filesystem;
using duck::quote_ident;
using duck::quote_literal;

namespace {

constexpr std::string_view kReserved = "_finsync_";
constexpr const char* kBuffer = "temp.main._finsync_buf";
constexpr const char* kBufferName = "_finsync_buf";
constexpr const char* kSeq = "_finsync_seq";
// _finsync_outputs.layout: the partition expressions, this separator, the files' columns.
constexpr std::string_view kLayoutSeparator = "\n";

std::string_view kind_name(StagingKind k) {
  switch (k) {
    case StagingKind::duckdb:
      return "duckdb";
    case StagingKind::parquet:
      return "parquet";
    case StagingKind::csv:
      return "csv";
  }
  return "duckdb";
}

std::string_view sql_type(DataType t) {
  switch (t) {
    case DataType::int64:
      return "BIGINT";
    case DataType::float64:
      return "DOUBLE";
    case DataType::string:
      return "VARCHAR";
    case DataType::date:
      return "DATE";
    case DataType::timestamp:
      return "TIMESTAMP";
    case DataType::boolean:
      return "BOOLEAN";
  }
  return "VARCHAR";
}

bool reserved(std::string_view name) {
  return name.substr(0, kReserved.size()) == kReserved;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string absolute_path(const std::string& p, const std::string& base) {
  if (p.empty()) return {};
  fs::path x(p);
  if (x.is_relative() && !base.empty()) x = fs::path(base) / x;
  std::error_code ec;
  fs::path a = fs::absolute(x, ec);
  return (ec ? x : a).lexically_normal().string();
}

// syncfs(2) on the filesystem holding `dir`: flushes every file written there.
Result<void> sync_filesystem(fs::path dir) {
  std::error_code ec;
  while (!fs::is_directory(dir, ec) && dir.has_parent_path() && dir != dir.parent_path())
    dir = dir.parent_path();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return fail(ErrorKind::permanent,
                fmt::format("cannot open {} to sync it: {}", dir.string(), std::strerror(errno)));
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    return fail(ErrorKind::permanent, fmt::format("cannot sync the filesystem of {}: {}",
                                                  dir.string(), std::strerror(err)));
  return {};
}

// Temp files are ".data.<ext>.tmp-<pid>": hidden, and not matched by "*.parquet"/"*.csv" globs.
bool is_temp_output(const fs::path& p, const std::string& ext) {
  std::string name = p.filename().string();
  std::string prefix = ".data." + ext + ".tmp-";
  return name.compare(0, prefix.size(), prefix) == 0;
}

std::string describe_columns(const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<std::string> parts;
  for (const auto& [n, t] : cols) parts.push_back(n + " " + t);
  return "(" + join(parts, ", ") + ")";
}

// What every staging output holds and every Parquet and CSV reader reads back: years 1-9999.
// DuckDB itself would take more, but it stores the extremes as ±infinity or NULL, and a date its
// CSV writer cannot print would fail every later materialization of the partition.
constexpr int32_t kMinDay = -719162;  // 0001-01-01
constexpr int32_t kMaxDay = 2932896;  // 9999-12-31
constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr int64_t kMinMicros = int64_t(kMinDay) * kMicrosPerDay;
constexpr int64_t kMaxMicros = (int64_t(kMaxDay) + 1) * kMicrosPerDay - 1;

// Far outside the calendar, values are printed as numbers (the calendar arithmetic would wrap).
constexpr int64_t kPrintableDays = 100'000'000;

std::string day_text(int64_t day) {
  return day >= -kPrintableDays && day <= kPrintableDays ? dates::iso(int32_t(day))
                                                         : std::to_string(day) + " days";
}

std::string micros_text(int64_t us) {
  const int64_t day = us / kMicrosPerDay - (us % kMicrosPerDay < 0 ? 1 : 0);
  const int64_t rest = us - day * kMicrosPerDay;
  if (day < -kPrintableDays || day > kPrintableDays) return fmt::format("{} microseconds", us);
  return fmt::format("{}T{:02}:{:02}:{:02}.{:06}Z", dates::iso(int32_t(day)), rest / 3'600'000'000,
                     rest / 60'000'000 % 60, rest / 1'000'000 % 60, rest % 1'000'000);
}

// The shape a plan's schema needs. Nullability is not compared: DuckDB makes primary-key
// columns NOT NULL, and a table made in one mode may be landed into in another.
TableShape expected_shape(const Schema& schema, std::vector<std::string> key) {
  TableShape t;
  for (const auto& f : schema.fields) t.columns.push_back({f.name, std::string(sql_type(f.type))});
  t.key = std::move(key);
  return t;
}

// The table as DuckDB describes it: nullability only for the columns `schema` lacks (where a NOT
// NULL column would refuse every row), the primary key when `with_key`.
Result<TableShape> describe_table(duck::Connection& con, const std::string& table,
                                  const Schema& schema, bool with_key) {
  auto cols = con.query(fmt::format(
      "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE database_name = "
      "current_database() AND schema_name = 'main' AND lower(table_name) = lower({}) ORDER BY "
      "column_index",
      quote_literal(table)));
  if (!cols) return fail(cols.error());
  TableShape t;
  for (size_t i = 0; i < cols->rows(); ++i) {
    std::string name = cols->string_at(0, i).value_or("");
    const bool nullable =
        schema.index_of(name) >= 0 || cols->string_at(2, i).value_or("") != "false";
    t.columns.push_back({std::move(name), cols->string_at(1, i).value_or(""), nullable});
  }
  if (with_key) {
    auto pk = con.query(fmt::format(
        "SELECT unnest(constraint_column_names) FROM duckdb_constraints() WHERE database_name = "
        "current_database() AND schema_name = 'main' AND lower(table_name) = lower({}) AND "
        "constraint_type = 'PRIMARY KEY'",
        quote_literal(table)));
    if (!pk) return fail(pk.error());
    for (size_t i = 0; i < pk->rows(); ++i) t.key.push_back(pk->string_at(0, i).value_or(""));
  }
  return t;
}

std::string_view partition_part(std::string_view layout) {
  return layout.substr(0, layout.find(kLayoutSeparator));
}

}  // namespace

std::string escape_partition_value(const std::optional<std::string>& value) {
  return value ? percent_encode(*value) : "NULL";
}

StagingSink::StagingSink(StagingKind kind, SinkSpec spec, SinkContext ctx, std::string store_path,
                         std::string output_dir)
    : kind_(kind),
      spec_(std::move(spec)),
      ctx_(std::move(ctx)),
      store_path_(std::move(store_path)),
      output_dir_(std::move(output_dir)) {}

StagingSink::~StagingSink() {
  // No materialization here: errors could not be reported. Dirty partitions stay recorded in the
  // store and the next run's close() rewrites them.
  drop_appender();
  con_.reset();
}

std::string StagingSink::dirty_key() const {
  return std::string(kind_name(kind_)) + ":" + output_dir_;
}

std::string StagingSink::target() const {
  return fmt::format("{} sink, table '{}' in {}", kind_name(kind_), table_.table, store_path_);
}

Error StagingSink::wrap(const Error& e, std::string_view what) const {
  return Error{e.kind, fmt::format("{}: {}: {}", target(), what, e.message), e.retry_at};
}

Result<void> StagingSink::ensure_store() {
  if (con_.connected()) return {};
  auto db = duck::Database::open(store_path_);
  if (!db) return fail(db.error());
  auto con = duck::Connection::connect(*db);
  if (!con) return fail(con.error());
  std::lock_guard lk((*db)->write_mutex());
  std::string ddl =
      "CREATE TABLE IF NOT EXISTS main._finsync_landed(plan VARCHAR, task_id VARCHAR, "
      "\"window\" VARCHAR, page INTEGER, \"rows\" BIGINT, landed_at TIMESTAMP, "
      "PRIMARY KEY(plan, task_id, page));";
  if (kind_ != StagingKind::duckdb)
    ddl +=
        "CREATE TABLE IF NOT EXISTS main._finsync_dirty(sink VARCHAR, tbl VARCHAR, "
        "\"partition\" VARCHAR, PRIMARY KEY(sink, tbl, \"partition\"));"
        "CREATE TABLE IF NOT EXISTS main._finsync_outputs(sink VARCHAR, tbl VARCHAR, "
        "layout VARCHAR, PRIMARY KEY(sink, tbl));";
  if (auto r = con->exec(ddl); !r)
    return fail(ErrorKind::permanent, fmt::format("cannot create the bookkeeping tables in {}: {}",
                                                  store_path_, r.error().message));
  con_ = std::move(*con);
  return {};
}

Result<void> StagingSink::open(const TableSpec& table_in) {
  if (opened_)
    return fail(ErrorKind::invalid_input,
                fmt::format("{} is already open; one sink object lands one table", target()));
  TableSpec t = table_in;
  if (t.table.empty()) t.table = spec_.table;
  if (t.table.empty()) return fail(ErrorKind::invalid_input, "the sink's table name is empty");
  if (reserved(t.table))
    return fail(ErrorKind::invalid_input,
                fmt::format("table name '{}' is reserved for finsync bookkeeping", t.table));
  // The plan's sink block can override the endpoint's mode.
  mode_ = spec_.mode != WriteMode::upsert ? spec_.mode : t.mode;
  t.mode = mode_;
  table_ = t;

  const Schema& s = t.schema;
  if (s.fields.empty())
    return fail(ErrorKind::invalid_input, fmt::format("{}: the schema has no columns", target()));
  std::set<std::string> seen;
  for (const auto& f : s.fields) {
    if (f.name.empty() || reserved(f.name) || !seen.insert(f.name).second)
      return fail(
          ErrorKind::invalid_input,
          fmt::format("{}: column name '{}' is empty, duplicated or reserved", target(), f.name));
  }
  std::set<std::string> pk_seen;
  for (const auto& k : t.primary_key) {
    if (s.index_of(k) < 0 || !pk_seen.insert(k).second)
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: primary key column '{}' is not in the schema (or repeated)",
                              target(), k));
  }
  if (mode_ == WriteMode::replace && spec_.replace == ReplaceScope::partition &&
      t.time_column.empty() && t.primary_key.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: replace: partition needs a time column or a key to say which "
                            "rows a task owns",
                            target()));
  if (mode_ == WriteMode::upsert && t.primary_key.empty())
    return fail(
        ErrorKind::invalid_input,
        fmt::format("{}: mode upsert needs a primary key; use mode append or replace", target()));

  partition_exprs_.clear();
  extra_columns_.clear();
  partition_names_.clear();
  if (kind_ == StagingKind::duckdb) {
    if (!spec_.partition_by.empty())
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: partition_by applies to parquet and csv sinks only", target()));
  } else {
    if (output_dir_.empty()) output_dir_ = absolute_path(t.table, ctx_.data_dir);
    for (const auto& p : spec_.partition_by) {
      if (s.index_of(p) >= 0) {  // a real column named "year" wins over the keyword
        partition_names_.push_back(p);
        partition_exprs_.push_back(quote_ident(p));
      } else if (p == "year") {
        int tc = t.time_column.empty() ? -1 : s.index_of(t.time_column);
        if (tc < 0 ||
            (s.fields[tc].type != DataType::date && s.fields[tc].type != DataType::timestamp))
          return fail(ErrorKind::invalid_input,
                      fmt::format("{}: partition_by 'year' needs a date or timestamp time column; "
                                  "time_column is '{}'",
                                  target(), t.time_column));
        partition_names_.push_back("year");
        partition_exprs_.push_back("year(" + quote_ident(t.time_column) + ")");
      } else {
        return fail(
            ErrorKind::invalid_input,
            fmt::format("{}: partition_by '{}' is neither a column nor 'year'", target(), p));
      }
    }
  }

  if (auto r = ensure_store(); !r) return fail(wrap(r.error(), "open"));
  if (auto r = create_tables(); !r) return r;
  opened_ = true;
  // Replace empties the table once per plan definition, not once per run: a run resumed after a
  // crash or an interrupt skips the tasks landed before, so their rows must stay.
  replaced_ = false;
  if (mode_ == WriteMode::replace && !by_partition()) {
    auto landed = landed_tasks(table_.plan);
    if (!landed) return fail(landed.error());
    replaced_ = !landed->empty();
  }
  return {};
}

Result<void> StagingSink::create_tables() {
  std::lock_guard lk(con_.database().write_mutex());
  const Schema& s = table_.schema;
  const std::string tq = "main." + quote_ident(table_.table);

  auto cols = con_.query(fmt::format(
      "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
      "current_database() AND schema_name = 'main' AND lower(table_name) = lower({}) ORDER BY "
      "column_index",
      quote_literal(table_.table)));
  if (!cols) return fail(wrap(cols.error(), "reading the table's columns"));

  std::vector<std::pair<std::string, std::string>> want;
  for (const auto& f : s.fields) want.emplace_back(f.name, std::string(sql_type(f.type)));

  bool fresh = cols->rows() == 0;
  if (fresh) {
    std::vector<std::string> defs;
    for (const auto& [n, ty] : want) defs.push_back(quote_ident(n) + " " + ty);
    if (mode_ != WriteMode::append && !table_.primary_key.empty()) {
      std::vector<std::string> pk;
      for (const auto& k : table_.primary_key) pk.push_back(quote_ident(k));
      defs.push_back("PRIMARY KEY(" + join(pk, ", ") + ")");
    }
    if (auto r = con_.exec("CREATE TABLE " + tq + "(" + join(defs, ", ") + ")"); !r)
      return fail(wrap(r.error(), "creating the table"));
  } else {
    auto found = describe_table(con_, table_.table, s, keyed());
    if (!found) return fail(wrap(found.error(), "reading the table's columns"));
    const TableShape expected =
        expected_shape(table_.schema, keyed() ? table_.primary_key : std::vector<std::string>{});
    const DriftPlan drift =
        plan_drift(diff_tables(expected, *found), spec_.schema_drift, table_.primary_key);
    if (!drift.blocking.empty())
      return fail(ErrorKind::invalid_input,
                  fmt::format("table '{}' in {} does not match the plan's schema (schema_drift: "
                              "{}): {}; expected {}, found {}; migrate or drop the table, land "
                              "into another one{}",
                              table_.table, store_path_, to_string(spec_.schema_drift),
                              join(drift.blocking, "; "), describe(expected.columns),
                              describe(found->columns),
                              spec_.schema_drift == SchemaDrift::fail
                                  ? ", or set schema_drift: evolve to add new columns"
                                  : ""));
    for (const auto& c : drift.add) {
      if (auto r = con_.exec(
              fmt::format("ALTER TABLE {} ADD COLUMN {} {}", tq, quote_ident(c.name), c.type));
          !r)
        return fail(wrap(r.error(), "adding column " + c.name + " (schema_drift: evolve)"));
      ++columns_added_;
      spdlog::info("{}: added column {} {} (schema_drift: evolve)", target(), c.name, c.type);
    }
    // Columns the table keeps that the plan no longer writes stay in the files.
    for (const auto& c : found->columns)
      if (s.index_of(c.name) < 0) extra_columns_.push_back(c.name);
  }

  std::vector<std::string> buf;
  for (const auto& [n, ty] : want) buf.push_back(quote_ident(n) + " " + ty);
  buf.push_back(std::string(kSeq) + " BIGINT");
  // Emptied by replacing it: a DELETE only marks rows deleted, and the in-memory temp table kept
  // every row ever staged (docs/benchmarks.md).
  buffer_ddl_ = fmt::format("CREATE OR REPLACE TEMP TABLE {}({});", kBufferName, join(buf, ", "));
  if (auto r = con_.exec(buffer_ddl_); !r)
    return fail(wrap(r.error(), "creating the write buffer"));
  buffer_ready_ = true;

  if (kind_ != StagingKind::duckdb) {
    // A new output, a changed layout or a deleted output directory: every partition is rewritten.
    auto layout = con_.query(
        fmt::format("SELECT layout FROM main._finsync_outputs WHERE sink = {} AND tbl = {}",
                    quote_literal(dirty_key()), quote_literal(table_.table)));
    if (!layout) return fail(wrap(layout.error(), "reading the output layout"));
    const std::string current = layout_key();
    std::error_code ec;
    bool rebuild = layout->rows() == 0 || layout->string_at(0, 0).value_or("") != current ||
                   !fs::exists(output_dir_, ec);
    if (rebuild && !fresh) {
      if (auto r = con_.exec(fmt::format(
              "INSERT OR IGNORE INTO main._finsync_dirty SELECT DISTINCT {}, {}, {} FROM {}",
              quote_literal(dirty_key()), quote_literal(table_.table), partition_key_sql(""), tq));
          !r)
        return fail(wrap(r.error(), "marking every partition for a rebuild"));
    }
  }
  return {};
}

std::string StagingSink::partition_key_sql(const std::string& alias) const {
  if (partition_exprs_.empty()) return "'[]'";
  std::vector<std::string> parts;
  for (size_t i = 0; i < partition_exprs_.size(); ++i) {
    std::string e = partition_exprs_[i];
    if (!alias.empty()) {
      // Qualify the column reference with the alias.
      const std::string& name = partition_names_[i];
      bool is_year = table_.schema.index_of(name) < 0;
      e = is_year ? "year(" + alias + "." + quote_ident(table_.time_column) + ")"
                  : alias + "." + quote_ident(name);
    }
    parts.push_back("CAST(" + e + " AS VARCHAR)");
  }
  return "CAST(to_json([" + join(parts, ", ") + "]) AS VARCHAR)";
}

Result<std::string> StagingSink::scope_sql(const Scope& scope) const {
  const Schema& s = table_.schema;
  std::vector<std::string> parts;
  for (const auto& [col, value] : scope.equals) {
    const int i = s.index_of(col);
    if (i < 0)
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: replace: partition: the task's column {} is not in the table",
                              target(), col));
    parts.push_back(fmt::format("{} = CAST({} AS {})", quote_ident(col), quote_literal(value),
                                sql_type(s.fields[i].type)));
  }
  if (!scope.time_column.empty()) {
    const int i = s.index_of(scope.time_column);
    if (i < 0 || (s.fields[i].type != DataType::date && s.fields[i].type != DataType::timestamp))
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: replace: partition: the time column {} is not a date or "
                              "timestamp column of the table",
                              target(), scope.time_column));
    const std::string c = quote_ident(scope.time_column);
    if (s.fields[i].type == DataType::date)
      parts.push_back(fmt::format("{} BETWEEN DATE '{}' AND DATE '{}'", c,
                                  dates::iso(scope.first_day), dates::iso(scope.last_day)));
    else
      parts.push_back(fmt::format("{} >= TIMESTAMP '{}' AND {} < TIMESTAMP '{}'", c,
                                  dates::iso(scope.first_day), c, dates::iso(scope.last_day + 1)));
  }
  return join(parts, " AND ");
}

std::string StagingSink::file_columns_sql(const std::string& alias) const {
  std::string out = columns_sql(alias);
  for (const auto& c : extra_columns_)
    out += ", " + (alias.empty() ? "" : alias + ".") + quote_ident(c);
  return out;
}

std::string StagingSink::layout_key() const {
  std::vector<std::string> cols;
  for (const auto& f : table_.schema.fields) cols.push_back(quote_ident(f.name));
  for (const auto& c : extra_columns_) cols.push_back(quote_ident(c));
  return join(partition_exprs_, ",") + std::string(kLayoutSeparator) + join(cols, ",");
}

std::string StagingSink::columns_sql(const std::string& alias) const {
  std::vector<std::string> cols;
  for (const auto& f : table_.schema.fields)
    cols.push_back((alias.empty() ? "" : alias + ".") + quote_ident(f.name));
  return join(cols, ", ");
}

std::string StagingSink::order_sql() const {
  std::vector<std::string> cols;
  if (!table_.primary_key.empty()) {
    for (const auto& k : table_.primary_key) cols.push_back(quote_ident(k));
  } else {
    for (const auto& f : table_.schema.fields) cols.push_back(quote_ident(f.name));
  }
  return join(cols, ", ");
}

void StagingSink::drop_appender() {
  if (appender_) duckdb_appender_destroy(&appender_);
  appender_ = nullptr;
}

Result<void> StagingSink::ensure_buffer() {
  if (appender_) return {};
  if (duckdb_appender_create_ext(con_.handle(), "temp", "main", kBufferName, &appender_) !=
      DuckDBSuccess) {
    std::string msg = appender_ ? duckdb_appender_error(appender_) : "unknown error";
    drop_appender();
    return fail(ErrorKind::internal,
                fmt::format("{}: cannot create the appender: {}", target(), msg));
  }
  return {};
}

Result<void> StagingSink::write(const RecordBatch& batch) {
  if (!opened_)
    return fail(ErrorKind::invalid_input, fmt::format("{}: write() before open()", target()));
  if (batch.num_rows() == 0) return {};
  const Schema& want = table_.schema;
  std::vector<int> map(want.fields.size());
  if (batch.schema() == want) {
    for (size_t i = 0; i < map.size(); ++i) map[i] = static_cast<int>(i);
  } else {
    bool ok = batch.schema().fields.size() == want.fields.size();
    for (size_t i = 0; ok && i < map.size(); ++i) {
      map[i] = batch.schema().index_of(want.fields[i].name);
      ok = map[i] >= 0 && batch.schema().fields[map[i]].type == want.fields[i].type;
    }
    if (!ok) {
      auto desc = [](const Schema& sc) {
        std::vector<std::pair<std::string, std::string>> c;
        for (const auto& f : sc.fields) c.emplace_back(f.name, std::string(sql_type(f.type)));
        return describe_columns(c);
      };
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: the batch has columns {} but the table has {}", target(),
                              desc(batch.schema()), desc(want)));
    }
  }
  if (auto r = check_values(batch, map); !r) {
    poisoned_ = true;  // the task fails as a whole: commit() will refuse its other batches
    return r;
  }
  if (auto r = ensure_buffer(); !r) return r;
  if (auto r = append_batch(batch, map); !r) {
    poisoned_ = true;  // part of the batch may be buffered: commit() will refuse
    return r;
  }
  buffered_rows_ += static_cast<int64_t>(batch.num_rows());
  return {};
}

Result<void> StagingSink::check_values(const RecordBatch& batch,
                                       const std::vector<int>& map) const {
  for (size_t i = 0; i < map.size(); ++i) {
    const Field& f = table_.schema.fields[i];
    if (f.type != DataType::date && f.type != DataType::timestamp) continue;
    const Column& col = batch.column(static_cast<size_t>(map[i]));
    for (size_t r = 0; r < col.size(); ++r) {
      if (!col.valid(r)) continue;
      const int64_t v = col.int_at(r);
      std::string what;
      if (f.type == DataType::date && (v < kMinDay || v > kMaxDay))
        what = fmt::format("date {} is outside 0001-01-01..9999-12-31", day_text(v));
      else if (f.type == DataType::timestamp && (v < kMinMicros || v > kMaxMicros))
        what =
            fmt::format("timestamp {} is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z",
                        micros_text(v));
      if (!what.empty())
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: row {}, column {}: {}; nothing of this batch was written",
                                target(), r + 1, f.name, what));
    }
  }
  return {};
}

Result<void> StagingSink::append_batch(const RecordBatch& batch, const std::vector<int>& map) {
  const size_t n = batch.num_rows();
  std::vector<const Column*> cols;
  for (int m : map) cols.push_back(&batch.column(static_cast<size_t>(m)));
  for (size_t r = 0; r < n; ++r) {
    bool bad = false;
    for (const Column* c : cols) {
      duckdb_state st;
      if (!c->valid(r)) {
        st = duckdb_append_null(appender_);
      } else {
        switch (c->type()) {
          case DataType::int64:
            st = duckdb_append_int64(appender_, c->int_at(r));
            break;
          case DataType::float64:
            st = duckdb_append_double(appender_, c->double_at(r));
            break;
          case DataType::string: {
            const std::string& v = c->string_at(r);
            st = duckdb_append_varchar_length(appender_, v.data(), v.size());
            break;
          }
          case DataType::date:
            st = duckdb_append_date(appender_, duckdb_date{static_cast<int32_t>(c->int_at(r))});
            break;
          case DataType::timestamp:
            st = duckdb_append_timestamp(appender_, duckdb_timestamp{c->int_at(r)});
            break;
          case DataType::boolean:
            st = duckdb_append_bool(appender_, c->int_at(r) != 0);
            break;
          default:
            st = DuckDBError;
            break;
        }
      }
      bad |= st != DuckDBSuccess;
    }
    bad |= duckdb_append_int64(appender_, seq_++) != DuckDBSuccess;
    bad |= duckdb_appender_end_row(appender_) != DuckDBSuccess;
    if (bad) {
      const char* msg = duckdb_appender_error(appender_);
      return fail(ErrorKind::permanent, fmt::format("{}: appending row {} failed: {}", target(), r,
                                                    msg ? msg : "unknown error"));
    }
    if (r == n / 2) {
      if (auto f = FINSYNC_FAILPOINT("sink.inside_staging_write"); !f) return f;
    }
  }
  return {};
}

Result<void> StagingSink::commit(std::span<const Checkpoint> cps) {
  if (cps.empty()) return {};
  std::string tasks = cps.front().task_id;
  if (cps.size() > 1) tasks += fmt::format(" (and {} more)", cps.size() - 1);
  if (!opened_)
    return fail(ErrorKind::invalid_input, fmt::format("{}: commit() before open()", target()));
  // A failed commit drops the buffered rows: the task failed as a whole and is fetched again, so
  // none of its rows may leak into the next task's commit.
  auto failed = [&](Error e) {
    (void)rollback();
    return fail(std::move(e));
  };
  if (poisoned_)
    return failed(Error{ErrorKind::permanent,
                        fmt::format("{}: a write() of task {} failed after part of its rows were "
                                    "buffered; its rows were dropped",
                                    target(), tasks),
                        std::nullopt});
  if (appender_) {
    if (duckdb_appender_close(appender_) != DuckDBSuccess) {
      const char* msg = duckdb_appender_error(appender_);
      return failed(Error{ErrorKind::permanent,
                          fmt::format("{}: flushing the buffered rows of task {} failed: {}",
                                      target(), tasks, msg ? msg : "unknown error"),
                          std::nullopt});
    }
    drop_appender();
  }
  {
    std::unique_lock lk(con_.database().write_mutex());
    // Upsert first tries a plain INSERT, which DuckDB checks against the key index far faster
    // than INSERT OR REPLACE; a key that already exists (or repeats within the batch) aborts it,
    // and the transaction is redone with INSERT OR REPLACE. Once a commit needed the fallback,
    // this sink goes straight to INSERT OR REPLACE.
    const bool try_plain = !keyed() || !overlap_seen_;
    duckdb_error_type type = DUCKDB_ERROR_INVALID;
    Result<void> r = commit_locked(cps, buffered_rows_,
                                   try_plain ? InsertKind::plain : InsertKind::replace, &type);
    if (!r && keyed() && try_plain && type == DUCKDB_ERROR_CONSTRAINT) {
      overlap_seen_ = true;
      r = commit_locked(cps, buffered_rows_, InsertKind::replace, nullptr);
    }
    lk.unlock();
    if (!r) return failed(wrap(r.error(), fmt::format("committing task {}", tasks)));
  }
  replaced_ = true;
  buffered_rows_ = 0;
  if (auto f = FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint"); !f) return f;
  for (const Checkpoint& cp : cps) {
    if (!cp.persist) continue;
    if (auto r = cp.persist(); !r) {
      Error e = r.error();
      e.message = fmt::format("task {} is landed in {} but saving its checkpoint failed: {}",
                              cp.task_id, store_path_, e.message);
      return fail(std::move(e));
    }
  }
  return {};
}

Result<void> StagingSink::commit_locked(std::span<const Checkpoint> cps, int64_t rows,
                                        InsertKind how, duckdb_error_type* error_type) {
  const std::string tq = "main." + quote_ident(table_.table);
  const bool files = kind_ != StagingKind::duckdb;
  const std::string sink = quote_literal(dirty_key());
  const std::string tbl = quote_literal(table_.table);
  std::string sql = "BEGIN TRANSACTION;";
  if (by_partition()) {
    // Each task's own rows go in the transaction that lands its new ones: readers (and files,
    // rewritten whole from this table) see the old partition or the new one.
    for (const Checkpoint& cp : cps) {
      if (cp.scope.empty()) continue;
      auto where = scope_sql(cp.scope);
      if (!where) return fail(where.error());
      if (files)
        sql += fmt::format(
            "INSERT OR IGNORE INTO main._finsync_dirty SELECT DISTINCT {}, {}, {} FROM {} WHERE "
            "{};",
            sink, tbl, partition_key_sql(""), tq, *where);
      sql += fmt::format("DELETE FROM {} WHERE {};", tq, *where);
    }
  } else if (mode_ == WriteMode::replace && !replaced_) {
    if (files)
      sql += fmt::format(
          "INSERT OR IGNORE INTO main._finsync_dirty SELECT DISTINCT {}, {}, {} FROM {};", sink,
          tbl, partition_key_sql(""), tq);
    sql += "DELETE FROM " + tq + ";";
  }
  if (rows > 0) {
    if (files)
      sql += fmt::format(
          "INSERT OR IGNORE INTO main._finsync_dirty SELECT DISTINCT {}, {}, {} FROM {};", sink,
          tbl, partition_key_sql(""), kBuffer);
    const std::string cols = columns_sql("");
    if (how != InsertKind::replace) {
      // The buffer is scanned in insertion order.
      sql += fmt::format("INSERT INTO {} ({}) SELECT {} FROM {};", tq, cols, cols, kBuffer);
    } else {
      // Within one commit the last written version of a key wins (a re-fetched page).
      std::vector<std::string> pk;
      for (const auto& k : table_.primary_key) pk.push_back(quote_ident(k));
      sql += fmt::format(
          "INSERT OR REPLACE INTO {} ({}) SELECT {} FROM {} QUALIFY row_number() OVER "
          "(PARTITION BY {} ORDER BY {} DESC) = 1;",
          tq, cols, cols, kBuffer, join(pk, ", "), kSeq);
    }
    sql += buffer_ddl_;
  }
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  // One marker per task; a single checkpoint owns every row written since the last commit.
  for (const Checkpoint& cp : cps)
    sql += fmt::format(
        "INSERT OR REPLACE INTO main._finsync_landed VALUES ({}, {}, {}, {}, {}, "
        "make_timestamp(CAST({} AS BIGINT)));",
        quote_literal(table_.plan), quote_literal(cp.task_id), quote_literal(cp.window), cp.page,
        cps.size() == 1 ? rows : cp.rows, now_us);
  sql += "COMMIT";
  auto r = con_.exec(sql);
  if (!r) {
    if (error_type) *error_type = con_.last_error_type();
    (void)con_.exec("ROLLBACK");  // a failed statement leaves the transaction open
  }
  return r;
}

Result<void> StagingSink::rollback() {
  drop_appender();
  buffered_rows_ = 0;
  poisoned_ = false;
  if (buffer_ready_ && con_.connected()) {
    if (auto r = con_.exec(buffer_ddl_); !r) return fail(wrap(r.error(), "rollback"));
  }
  return {};
}

Result<std::map<std::string, int64_t>> StagingSink::landed_tasks(const std::string& plan) {
  if (auto r = ensure_store(); !r) return fail(r.error());
  auto q = con_.query(
      "SELECT task_id, CAST(sum(\"rows\") AS BIGINT) FROM main._finsync_landed WHERE plan = " +
      quote_literal(plan) + " GROUP BY task_id");
  if (!q) return fail(wrap(q.error(), "reading landed tasks"));
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < q->rows(); ++i) out[q->string_at(0, i).value_or("")] = q->int_at(1, i);
  return out;
}

Result<std::map<std::string, std::vector<int32_t>>> StagingSink::landed_days(
    const TableSpec& table, const std::string& symbol_column) {
  std::map<std::string, std::vector<int32_t>> out;
  const std::string name = table.table.empty() ? spec_.table : table.table;
  if (table.time_column.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: the endpoint has no time column to verify by", target()));
  std::error_code ec;
  if (!fs::exists(store_path_, ec)) return out;  // nothing landed yet
  if (auto r = ensure_store(); !r) return fail(r.error());
  auto exists = con_.query(
      "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND "
      "table_name = " +
      quote_literal(name));
  if (!exists) return fail(wrap(exists.error(), "looking up the table"));
  if (exists->int_at(0, 0) == 0) return out;
  const std::string sym = symbol_column.empty()
                              ? std::string("''")
                              : "CAST(" + quote_ident(symbol_column) + " AS VARCHAR)";
  const std::string day = "CAST(date_diff('day', DATE '1970-01-01', CAST(" +
                          quote_ident(table.time_column) + " AS DATE)) AS BIGINT)";
  auto q =
      con_.query(fmt::format("SELECT DISTINCT {} AS s, {} AS d FROM main.{} WHERE {} IS NOT "
                             "NULL ORDER BY s, d",
                             sym, day, quote_ident(name), quote_ident(table.time_column)));
  if (!q) return fail(wrap(q.error(), "reading the landed days"));
  for (size_t i = 0; i < q->rows(); ++i)
    out[q->string_at(0, i).value_or("")].push_back(int32_t(q->int_at(1, i)));
  return out;
}

Result<SinkCheck> StagingSink::check(const TableSpec& table_in) {
  TableSpec t = table_in;
  if (t.table.empty()) t.table = spec_.table;
  const WriteMode mode = spec_.mode != WriteMode::upsert ? spec_.mode : t.mode;
  SinkCheck out;
  out.store = fmt::format("{} {}", kind_name(kind_), store_path_);
  if (kind_ != StagingKind::duckdb)
    out.notes.push_back("files are written under " + (output_dir_.empty()
                                                          ? absolute_path(t.table, ctx_.data_dir)
                                                          : output_dir_));
  std::error_code ec;
  if (!fs::exists(store_path_, ec)) {
    out.server = fmt::format("DuckDB {}", duckdb_library_version());
    out.notes.push_back("the store does not exist yet; the first run creates it");
    return out;
  }
  // A connection of its own, so a check never creates bookkeeping tables in the store.
  auto db = duck::Database::open(store_path_);
  if (!db) return fail(db.error());
  auto con = duck::Connection::connect(*db);
  if (!con) return fail(con.error());
  auto version = con->query("SELECT version()");
  if (!version) return fail(version.error());
  out.server = "DuckDB " + version->string_at(0, 0).value_or("?");
  const bool keyed = mode != WriteMode::append && !t.primary_key.empty();
  auto found = describe_table(*con, t.table, t.schema, keyed);
  if (!found) return fail(found.error());
  out.table_exists = !found->columns.empty();
  out.notes.push_back(
      fmt::format("mode {}, schema_drift {}", to_string(mode), to_string(spec_.schema_drift)));
  if (!out.table_exists) return out;
  const TableShape want =
      expected_shape(t.schema, keyed ? t.primary_key : std::vector<std::string>{});
  const DriftPlan drift = plan_drift(diff_tables(want, *found), spec_.schema_drift, t.primary_key);
  out.differences = drift.blocking;
  for (const auto& c : drift.add)
    out.notes.push_back(fmt::format("schema_drift: evolve adds column {} {}", c.name, c.type));
  return out;
}

Result<void> StagingSink::health() {
  if (auto r = ensure_store(); !r) return fail(r.error());
  if (auto r = con_.exec("SELECT 1"); !r) return fail(wrap(r.error(), "health check"));
  return {};
}

Result<SinkStats> StagingSink::close() {
  drop_appender();
  Result<SinkStats> stats = SinkStats{};
  if (opened_ && kind_ != StagingKind::duckdb && con_.connected()) stats = materialize();
  if (stats) stats->columns_added = columns_added_;
  opened_ = false;
  buffer_ready_ = false;
  buffered_rows_ = 0;
  poisoned_ = false;
  con_.reset();  // the last sink on a store closes it and releases the file lock
  return stats;
}

Result<SinkStats> StagingSink::materialize() {
  if (kind_ == StagingKind::duckdb || !opened_) return SinkStats{};
  std::lock_guard lk(con_.database().write_mutex());
  auto r = materialize_locked();
  (void)con_.exec(
      "DROP TABLE IF EXISTS temp.main._finsync_mat; DROP TABLE IF EXISTS "
      "temp.main._finsync_parts");
  if (!r) return fail(wrap(r.error(), "materializing " + output_dir_));
  return r;
}

Result<SinkStats> StagingSink::materialize_locked() {
  SinkStats stats;
  const std::string ext = kind_ == StagingKind::parquet ? "parquet" : "csv";
  const std::string sink = quote_literal(dirty_key());
  const std::string tbl = quote_literal(table_.table);
  const std::string layout = layout_key();
  const fs::path out(output_dir_);
  const size_t arity = partition_exprs_.size();
  std::error_code ec;

  auto old = con_.query(fmt::format(
      "SELECT layout FROM main._finsync_outputs WHERE sink = {} AND tbl = {}", sink, tbl));
  if (!old) return fail(old.error());
  if (old->rows() && partition_part(old->string_at(0, 0).value_or("")) != partition_part(layout) &&
      fs::exists(out, ec)) {
    // partition_by changed: files of the old layout go, every partition was marked dirty at open.
    std::vector<fs::path> doomed;
    for (auto it = fs::recursive_directory_iterator(out, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() &&
          (it->path().filename() == "data." + ext || is_temp_output(it->path(), ext)))
        doomed.push_back(it->path());
    }
    for (const auto& p : doomed) fs::remove(p, ec);
  }

  // Dirty rows of another layout are covered by the full rebuild.
  if (auto r =
          con_.exec(fmt::format("DELETE FROM main._finsync_dirty WHERE sink = {} AND tbl = {} AND "
                                "json_array_length(\"partition\") <> {}",
                                sink, tbl, arity));
      !r)
    return fail(r.error());

  std::string sel = "SELECT \"partition\"";
  for (size_t i = 0; i < arity; ++i)
    sel += fmt::format(", json_extract_string(\"partition\", '$[{}]')", i);
  auto dirty = con_.query(
      fmt::format("{} FROM main._finsync_dirty WHERE sink = {} AND tbl = {} ORDER BY \"partition\"",
                  sel, sink, tbl));
  if (!dirty) return fail(dirty.error());
  const size_t n = dirty->rows();

  std::vector<std::string> keys(n);
  std::vector<fs::path> dirs(n);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = dirty->string_at(0, i).value_or("");
    fs::path d = out;
    for (size_t j = 0; j < arity; ++j)
      d /= escape_partition_value(partition_names_[j]) + "=" +
           escape_partition_value(dirty->string_at(j + 1, i));
    dirs[i] = d;
  }

  if (n > 0) {
    if (auto r =
            con_.exec("CREATE OR REPLACE TEMP TABLE _finsync_parts(pid INTEGER, \"key\" VARCHAR)");
        !r)
      return fail(r.error());
    duckdb_appender app = nullptr;
    if (duckdb_appender_create_ext(con_.handle(), "temp", "main", "_finsync_parts", &app) !=
        DuckDBSuccess) {
      if (app) duckdb_appender_destroy(&app);
      return fail(ErrorKind::internal, "cannot create the partition appender");
    }
    bool bad = false;
    for (size_t i = 0; i < n; ++i) {
      bad |= duckdb_append_int32(app, static_cast<int32_t>(i)) != DuckDBSuccess;
      bad |= duckdb_append_varchar_length(app, keys[i].data(), keys[i].size()) != DuckDBSuccess;
      bad |= duckdb_appender_end_row(app) != DuckDBSuccess;
    }
    bad |= duckdb_appender_close(app) != DuckDBSuccess;
    duckdb_appender_destroy(&app);
    if (bad) return fail(ErrorKind::internal, "cannot fill the partition table");

    // One sorted copy of the dirty partitions' rows; each file is then a range of it.
    if (auto r = con_.exec(fmt::format(
            "CREATE OR REPLACE TEMP TABLE _finsync_mat AS SELECT p.pid AS _finsync_pid, {} FROM "
            "main.{} AS t JOIN temp.main._finsync_parts AS p ON {} = p.\"key\" ORDER BY "
            "_finsync_pid, {}",
            file_columns_sql("t"), quote_ident(table_.table), partition_key_sql("t"), order_sql()));
        !r)
      return fail(r.error());
  }
  std::vector<int64_t> counts(n, 0);
  if (n > 0) {
    auto c = con_.query(
        "SELECT _finsync_pid, count(*) FROM temp.main._finsync_mat GROUP BY _finsync_pid");
    if (!c) return fail(c.error());
    for (size_t i = 0; i < c->rows(); ++i) {
      int64_t pid = c->int_at(0, i);
      if (pid >= 0 && static_cast<size_t>(pid) < n) counts[pid] = c->int_at(1, i);
    }
  }

  // USE_TMP_FILE false: DuckDB writes straight into our temp name (its own would be tmp_<name>).
  const std::string options = kind_ == StagingKind::parquet
                                  ? "FORMAT parquet, COMPRESSION zstd, USE_TMP_FILE false"
                                  : "FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', "
                                    "ESCAPE '\"', USE_TMP_FILE false";
  const std::string tmp_name = ".data." + ext + ".tmp-" + std::to_string(::getpid());
  std::vector<std::pair<fs::path, fs::path>> staged;  // temp file -> final file
  auto drop_staged = [&] {
    for (const auto& [tmp, _] : staged) fs::remove(tmp, ec);
  };
  // 1. Every non-empty partition is written to a temp file next to its final place.
  for (size_t i = 0; i < n; ++i) {
    const fs::path& d = dirs[i];
    if (fs::is_directory(d, ec)) {  // leftovers of a run that died while writing here
      std::vector<fs::path> stale;
      for (const auto& e : fs::directory_iterator(d, ec))
        if (is_temp_output(e.path(), ext)) stale.push_back(e.path());
      for (const auto& p : stale) fs::remove(p, ec);
    }
    if (counts[i] == 0) continue;
    fs::create_directories(d, ec);
    if (ec) {
      drop_staged();
      return fail(ErrorKind::permanent,
                  fmt::format("cannot create {}: {}", d.string(), ec.message()));
    }
    const fs::path tmp = d / tmp_name;
    staged.emplace_back(tmp, d / ("data." + ext));
    if (auto r = con_.exec(fmt::format(
            "COPY (SELECT {} FROM temp.main._finsync_mat WHERE _finsync_pid = {} ORDER BY {}) TO "
            "{} ({})",
            file_columns_sql(""), i, order_sql(), quote_literal(tmp.string()), options));
        !r) {
      drop_staged();
      return fail(r.error());
    }
  }
  // 2. One filesystem sync makes all temp files durable (cheaper than an fsync per file).
  if (!staged.empty()) {
    if (auto r = sync_filesystem(out); !r) {
      drop_staged();
      return fail(r.error());
    }
  }
  // 3. Atomic replacement; partitions without rows lose their file (and empty directories).
  for (const auto& [tmp, final_path] : staged) {
    if (auto f = FINSYNC_FAILPOINT("sink.inside_materialize"); !f) {
      drop_staged();
      return fail(f.error());
    }
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      std::string msg = std::strerror(errno);
      drop_staged();
      return fail(ErrorKind::permanent, fmt::format("cannot rename {} to {}: {}", tmp.string(),
                                                    final_path.string(), msg));
    }
    ++stats.files_written;
  }
  for (size_t i = 0; i < n; ++i) {
    ++stats.partitions_materialized;
    if (counts[i] != 0) continue;
    fs::remove(dirs[i] / ("data." + ext), ec);
    for (fs::path p = dirs[i]; p != out && p.has_parent_path() && fs::is_empty(p, ec) && !ec;
         p = p.parent_path())
      fs::remove(p, ec);
  }
  // 4. The renames are durable too.
  if (n > 0) {
    if (auto r = sync_filesystem(out); !r) return fail(r.error());
  }

  // Files are durable: now forget the dirty marks (a crash before this rewrites them again).
  std::string done = "BEGIN TRANSACTION;";
  if (n > 0)
    done += fmt::format(
        "DELETE FROM main._finsync_dirty WHERE sink = {} AND tbl = {} AND \"partition\" IN "
        "(SELECT \"key\" FROM temp.main._finsync_parts);",
        sink, tbl);
  done += fmt::format("INSERT OR REPLACE INTO main._finsync_outputs VALUES ({}, {}, {});COMMIT",
                      sink, tbl, quote_literal(layout));
  if (auto r = con_.exec(done); !r) {
    (void)con_.exec("ROLLBACK");
    return fail(r.error());
  }
  return stats;
}

Result<std::unique_ptr<StagingSink>> make_staging_sink(StagingKind kind, const SinkSpec& spec,
                                                       const SinkContext& ctx) {
  // duckdb refuses partition_by at open(), naming the table.
  auto keys = check_keys(spec, {"path", "partition_by", "replace", "schema_drift"});
  if (!keys) return fail(keys.error());
  std::string store;
  std::string out;
  if (kind == StagingKind::duckdb) {
    store = spec.path.empty() ? absolute_path(ctx.staging_path, "")
                              : absolute_path(spec.path, ctx.data_dir);
    if (store.empty())
      return fail(ErrorKind::invalid_input,
                  "the duckdb sink needs a path, or a workspace with a staging store");
    std::error_code ec;
    if (fs::is_directory(store, ec))
      return fail(ErrorKind::invalid_input,
                  fmt::format("the duckdb sink path {} is a directory; it must name a .duckdb file",
                              store));
  } else {
    store = absolute_path(ctx.staging_path, "");
    if (store.empty())
      return fail(ErrorKind::invalid_input,
                  fmt::format("the {} sink stages rows in the workspace staging store, and the "
                              "workspace has none",
                              kind_name(kind)));
    out = absolute_path(spec.path, ctx.data_dir);  // empty: <data_dir>/<table>, set at open
    if (out.empty() && ctx.data_dir.empty())
      return fail(
          ErrorKind::invalid_input,
          fmt::format("the {} sink needs a path (no workspace data directory)", kind_name(kind)));
  }
  return std::make_unique<StagingSink>(kind, spec, ctx, std::move(store), std::move(out));
}

}  // namespace finsync::sink
