// Sink throughput: N daily-bar rows (the Tushare `daily` shape: ts_code, trade_date and nine
// doubles with two decimals) generated in memory and landed through any registered sink kind,
// one commit (with its landed marker) per batch, as the engine lands a group of tasks. Prints
// rows/s and peak RSS. bench/db_sink_bench.sh runs it beside each store's own bulk loader on the
// same DDL and settings and prints the ratio.
//
//   db_sink_bench --kind KIND --rows N [--batch ROWS] [--table T] [--set key=value]...
//   db_sink_bench --csv FILE --rows N          the same rows as CSV, for the native loaders
//   db_sink_bench --sqlite-loop FILE --table T --rows N
//                                           baseline: a bare prepared-statement loop in one
//                                           transaction into an existing table of FILE
//   db_sink_bench --duckdb-copy FILE --like STORE --table T --from CSV
//                                           baseline: DuckDB's COPY FROM the CSV into FILE, in a
//                                           table made by T's DDL in STORE (same settings as the
//                                           staging store: threads 1 unless FINSYNC_DUCKDB_THREADS)
//   db_sink_bench --xlsx-loop FILE --rows N
//                                           baseline: the rows written straight through
//                                           libxlsxwriter in constant_memory mode (bold frozen
//                                           header, autofilter, date cells), as the excel sink does
//   --staging FILE                          the workspace staging store (parquet, csv, excel);
//                                           --set partition_by=a+b for file sinks
#include <duckdb.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "sink/db/value_text.hpp"
#include "sink/registry.hpp"

using namespace finsync;

namespace {

Schema daily_schema() {
  Schema s{{{"ts_code", DataType::string}, {"trade_date", DataType::date}}};
  for (const char* c :
       {"open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"})
    s.fields.push_back({c, DataType::float64});
  return s;
}

// Rows come as the engine lands them: a task is one symbol over a window of days, so a batch
// holds a few symbols' consecutive days. Row i: symbol i / 2500, day 1990-01-01 + i % 2500
// (10 years of bars per symbol; 1M rows = 400 symbols). Prices are cents.
constexpr int64_t kDays = 2500;
std::string symbol(int64_t i) {
  const int64_t s = i / kDays;
  return fmt::format("{:06}.{}", s, s % 2 ? "SZ" : "SH");
}
int32_t day(int64_t i) {
  return dates::days_from_civil(1990, 1, 1) + int32_t(i % kDays);
}
double price(int64_t i, int col) {
  return double((i * 7919 + col * 104729) % 100000) / 100.0;
}

void fill(RecordBatch& b, int64_t from, int64_t to) {
  for (int64_t i = from; i < to; ++i) {
    b.column(0).append_string(symbol(i));
    b.column(1).append_int(day(i));
    for (int c = 0; c < 9; ++c) b.column(size_t(2 + c)).append_double(price(i, c));
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int write_csv(const std::string& file, int64_t rows) {
  std::FILE* f = std::fopen(file.c_str(), "w");
  if (!f) return 1;
  std::fputs("ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n", f);
  for (int64_t i = 0; i < rows; ++i) {
    std::fprintf(f, "%s,%s", symbol(i).c_str(), sink::db::date_text(day(i)).c_str());
    for (int c = 0; c < 9; ++c) std::fprintf(f, ",%.2f", price(i, c));
    std::fputc('\n', f);
  }
  return std::fclose(f) == 0 ? 0 : 1;
}

// The bare loop: the fastest a program can put these rows into SQLite through its API.
int sqlite_loop(const std::string& file, const std::string& table, int64_t rows) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) return 1;
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  const std::string sql = fmt::format("INSERT INTO \"{}\" VALUES (?,?,?,?,?,?,?,?,?,?,?)", table);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (int64_t i = 0; i < rows; ++i) {
    const std::string s = symbol(i), d = sink::db::date_text(day(i));
    sqlite3_bind_text(st, 1, s.data(), int(s.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, d.data(), int(d.size()), SQLITE_STATIC);
    for (int c = 0; c < 9; ++c) sqlite3_bind_double(st, 3 + c, price(i, c));
    if (sqlite3_step(st) != SQLITE_DONE) {
      std::fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      return 1;
    }
    sqlite3_reset(st);
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return 1;
  const double secs = seconds_since(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  std::printf("rows %lld seconds %.3f rows_per_s %.0f\n", (long long)rows, secs,
              double(rows) / secs);
  return 0;
}

// DuckDB's own bulk path, on the DDL finsync made, in a database file of its own. The close
// (a checkpoint of the file) is timed too, as the sink's close is.
int duckdb_copy(const std::string& file, const std::string& like, const std::string& table,
                const std::string& from, int64_t rows) {
  duckdb_config cfg = nullptr;
  duckdb_create_config(&cfg);
  const char* threads = std::getenv("FINSYNC_DUCKDB_THREADS");
  duckdb_set_config(cfg, "threads", threads && *threads ? threads : "1");
  duckdb_database db = nullptr;
  char* err = nullptr;
  if (duckdb_open_ext(file.c_str(), &db, cfg, &err) != DuckDBSuccess) {
    std::fprintf(stderr, "%s\n", err ? err : "cannot open");
    return 1;
  }
  duckdb_destroy_config(&cfg);
  duckdb_connection con = nullptr;
  duckdb_connect(db, &con);
  auto run = [&](const std::string& sql, std::string* first = nullptr) {
    duckdb_result res;
    const bool ok = duckdb_query(con, sql.c_str(), &res) == DuckDBSuccess;
    if (!ok) std::fprintf(stderr, "%s: %s\n", sql.c_str(), duckdb_result_error(&res));
    if (ok && first && duckdb_row_count(&res) > 0) {
      char* v = duckdb_value_varchar(&res, 0, 0);
      *first = v;
      duckdb_free(v);
    }
    duckdb_destroy_result(&res);
    return ok;
  };
  std::string ddl;
  if (!run(fmt::format("ATTACH '{}' AS src (READ_ONLY)", like)) ||
      !run(fmt::format("SELECT sql FROM duckdb_tables() WHERE database_name = 'src' AND "
                       "table_name = '{}'",
                       table),
           &ddl) ||
      ddl.empty() || !run("DETACH src") || !run(ddl))
    return 1;
  const auto t0 = std::chrono::steady_clock::now();
  if (!run(fmt::format("COPY \"{}\" FROM '{}' (HEADER true)", table, from))) return 1;
  duckdb_disconnect(&con);
  duckdb_close(&db);
  const double secs = seconds_since(t0);
  std::printf("rows %lld seconds %.3f rows_per_s %.0f peak_rss_kib %ld\n", (long long)rows, secs,
              double(rows) / secs, peak_rss_kib());
  return 0;
}

// The bare libxlsxwriter loop over the same rows: what the excel sink's build costs at least.
int xlsx_loop(const std::string& file, int64_t rows) {
  const auto t0 = std::chrono::steady_clock::now();
  lxw_workbook_options opts{};
  opts.constant_memory = LXW_TRUE;
  lxw_workbook* wb = workbook_new_opt(file.c_str(), &opts);
  if (wb == nullptr) return 1;
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* date = workbook_add_format(wb);
  format_set_num_format(date, "yyyy-mm-dd");
  lxw_worksheet* ws = workbook_add_worksheet(wb, "bench_daily");
  const Schema schema = daily_schema();
  for (size_t c = 0; c < schema.fields.size(); ++c)
    worksheet_write_string(ws, 0, lxw_col_t(c), schema.fields[c].name.c_str(), bold);
  worksheet_freeze_panes(ws, 1, 0);
  worksheet_autofilter(ws, 0, 0, lxw_row_t(rows), lxw_col_t(schema.fields.size() - 1));
  // Excel's serial day of 1970-01-01 (days since 1899-12-30).
  constexpr double kEpochSerial = 25569;
  for (int64_t i = 0; i < rows; ++i) {
    const lxw_row_t r = lxw_row_t(i + 1);
    worksheet_write_string(ws, r, 0, symbol(i).c_str(), nullptr);
    worksheet_write_number(ws, r, 1, kEpochSerial + day(i), date);
    for (int c = 0; c < 9; ++c)
      worksheet_write_number(ws, r, lxw_col_t(2 + c), price(i, c), nullptr);
  }
  if (workbook_close(wb) != LXW_NO_ERROR) return 1;
  const double secs = seconds_since(t0);
  std::printf("rows %lld seconds %.3f rows_per_s %.0f peak_rss_kib %ld\n", (long long)rows, secs,
              double(rows) / secs, peak_rss_kib());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kind, csv, loop, table = "bench_daily", copy, like, from, staging, xlsx;
  int64_t rows = 1'000'000, batch = 50'000;
  sink::SinkSpec spec;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--kind")
      kind = v;
    else if (k == "--rows")
      rows = std::stoll(v);
    else if (k == "--batch")
      batch = std::stoll(v);
    else if (k == "--table")
      table = v;
    else if (k == "--csv")
      csv = v;
    else if (k == "--sqlite-loop")
      loop = v;
    else if (k == "--duckdb-copy")
      copy = v;
    else if (k == "--like")
      like = v;
    else if (k == "--from")
      from = v;
    else if (k == "--staging")
      staging = v;
    else if (k == "--xlsx-loop")
      xlsx = v;
    else if (k == "--set") {
      const auto eq = v.find('=');
      const std::string key = v.substr(0, eq), val = v.substr(eq + 1);
      if (key == "dsn")
        spec.dsn = val;
      else if (key == "path")
        spec.path = val;
      else if (key == "password")
        spec.password = val;
      else if (key == "partition_by") {
        for (size_t at = 0; at <= val.size();) {
          const size_t plus = std::min(val.find('+', at), val.size());
          spec.partition_by.push_back(val.substr(at, plus - at));
          at = plus + 1;
        }
      } else if (key == "schema_drift")
        spec.schema_drift = val == "evolve" ? sink::SchemaDrift::evolve : sink::SchemaDrift::fail;
      else
        spec.options[key] = val;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 64;
    }
  }
  if (!csv.empty()) return write_csv(csv, rows);
  if (!loop.empty()) return sqlite_loop(loop, table, rows);
  if (!copy.empty()) return duckdb_copy(copy, like, table, from, rows);
  if (!xlsx.empty()) return xlsx_loop(xlsx, rows);
  if (kind.empty()) {
    std::fprintf(stderr, "usage: db_sink_bench --kind KIND --rows N [--set key=value]...\n");
    return 64;
  }
  sink::SinkRegistry registry;
  sink::register_builtin_sinks(registry);
  spec.kind = kind;
  spec.table = table;
  // The staging kinds have no round trips to size: a commit is the batch.
  const bool staged = kind == "duckdb" || kind == "parquet" || kind == "csv" || kind == "excel";
  if (!staged) spec.batch_size = batch;
  auto s = registry.create(spec, sink::SinkContext{".", staging});
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  const sink::TableSpec t{"bench#1",      table,
                          daily_schema(), {"ts_code", "trade_date"},
                          "trade_date",   sink::WriteMode::upsert};
  if (auto r = (*s)->open(t); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  double generate = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t from = 0; from < rows; from += batch) {
    const int64_t to = std::min(rows, from + batch);
    const auto g0 = std::chrono::steady_clock::now();
    RecordBatch b(daily_schema());
    for (size_t c = 0; c < b.num_columns(); ++c) b.column(c).reserve(size_t(to - from));
    fill(b, from, to);
    generate += seconds_since(g0);
    sink::Checkpoint cp;
    cp.task_id = fmt::format("bench/{}", from);
    cp.rows = to - from;
    if (auto w = (*s)->write(b); !w) {
      std::fprintf(stderr, "%s\n", w.error().message.c_str());
      return 1;
    }
    if (auto c = (*s)->commit(cp); !c) {
      std::fprintf(stderr, "%s\n", c.error().message.c_str());
      return 1;
    }
  }
  auto stats = (*s)->close();
  const double secs = seconds_since(t0) - generate;
  if (!stats) {
    std::fprintf(stderr, "%s\n", stats.error().message.c_str());
    return 1;
  }
  std::printf(
      "rows %lld seconds %.3f rows_per_s %.0f commits %lld generate_s %.3f peak_rss_kib %ld\n",
      (long long)rows, secs, double(rows) / secs, (long long)stats->commits, generate,
      peak_rss_kib());
  return 0;
}
