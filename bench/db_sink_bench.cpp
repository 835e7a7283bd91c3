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
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
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

}  // namespace

int main(int argc, char** argv) {
  std::string kind, csv, loop, table = "bench_daily";
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
    else if (k == "--set") {
      const auto eq = v.find('=');
      const std::string key = v.substr(0, eq), val = v.substr(eq + 1);
      if (key == "dsn")
        spec.dsn = val;
      else if (key == "path")
        spec.path = val;
      else if (key == "password")
        spec.password = val;
      else if (key == "schema_drift")
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
  if (kind.empty()) {
    std::fprintf(stderr, "usage: db_sink_bench --kind KIND --rows N [--set key=value]...\n");
    return 64;
  }
  sink::SinkRegistry registry;
  sink::register_builtin_sinks(registry);
  spec.kind = kind;
  spec.table = table;
  spec.batch_size = batch;
  auto s = registry.create(spec, sink::SinkContext{".", ""});
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
