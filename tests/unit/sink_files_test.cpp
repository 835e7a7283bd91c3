// The parquet and csv sinks: rows staged in DuckDB, files materialized per partition at close().
// Files are read back through a separate DuckDB instance, as any consumer would read them.
#include <duckdb.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sink/registry.hpp"
#include "sink/staging_sink.hpp"

namespace finsync::sink {
namespace {

namespace fs = std::filesystem;

// A spec as a plan's sink block gives it: kind, path, mode, partition_by.
SinkSpec spec_of(std::string kind, std::string path, WriteMode mode,
                 std::vector<std::string> partition_by) {
  SinkSpec s;
  s.kind = std::move(kind);
  s.path = std::move(path);
  s.mode = mode;
  s.partition_by = std::move(partition_by);
  return s;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "finsync_sink_files_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs SQL on a fresh in-memory DuckDB instance (no finsync code) and renders rows as a|b|c.
std::vector<std::string> query(const std::string& sql) {
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  EXPECT_EQ(duckdb_open(nullptr, &db), DuckDBSuccess);
  duckdb_connect(db, &con);
  std::vector<std::string> out;
  duckdb_result res;
  if (duckdb_query(con, sql.c_str(), &res) != DuckDBSuccess) {
    ADD_FAILURE() << sql << ": " << duckdb_result_error(&res);
  } else {
    for (idx_t r = 0; r < duckdb_row_count(&res); ++r) {
      std::string line;
      for (idx_t c = 0; c < duckdb_column_count(&res); ++c) {
        if (c) line += "|";
        if (duckdb_value_is_null(&res, c, r)) {
          line += "NULL";
        } else {
          char* v = duckdb_value_varchar(&res, c, r);
          line += v;
          duckdb_free(v);
        }
      }
      out.push_back(line);
    }
  }
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every regular file under dir, relative, sorted.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

int days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

std::string iso_date(int days) {
  // civil_from_days
  int z = days + 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y + (m <= 2), m, d);
  return buf;
}

Schema bars_schema() {
  return Schema{{{"ts_code", DataType::string},
                 {"trade_date", DataType::date},
                 {"close", DataType::float64}}};
}

TableSpec bars_table(WriteMode mode = WriteMode::upsert) {
  TableSpec t;
  t.plan = "p1";
  t.table = "daily";
  t.schema = bars_schema();
  t.primary_key = {"ts_code", "trade_date"};
  t.time_column = "trade_date";
  t.mode = mode;
  return t;
}

Checkpoint cp(std::string task, int page = 0) {
  Checkpoint c;
  c.task_id = std::move(task);
  c.window = "w";
  c.page = page;
  return c;
}

// Symbols chosen to need escaping in directory names: '/' must not create a directory.
const std::vector<std::string> kSymbols = {"000001.SZ", "600000.SH", "X/Y"};
const int kFirst = days_from_civil(2020, 1, 1);
const int kLast = days_from_civil(2022, 12, 31);

double final_close(int sym, int day) {
  return sym * 10000 + (day - kFirst) + 0.25;
}

RecordBatch rows_for(int sym, int from, int to, double bump = 0) {
  RecordBatch b(bars_schema());
  for (int d = from; d <= to; ++d) {
    b.column(0).append_string(kSymbols[sym]);
    b.column(1).append_int(d);
    b.column(2).append_double(final_close(sym, d) + bump);
  }
  return b;
}

std::unique_ptr<StagingSink> make_file_sink(const std::string& kind, const SinkContext& ctx,
                                            const std::string& path,
                                            std::vector<std::string> partition_by,
                                            WriteMode mode = WriteMode::upsert) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec = spec_of(kind, path, mode, std::move(partition_by));
  auto s = reg.create(spec, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  if (!s) return nullptr;
  return std::unique_ptr<StagingSink>(dynamic_cast<StagingSink*>(s->release()));
}

std::string reader(const std::string& kind, const std::string& dir) {
  return kind == "parquet" ? "read_parquet('" + dir + "/**/*.parquet', hive_partitioning=true)"
                           : "read_csv('" + dir +
                                 "/**/*.csv', hive_partitioning=true, "
                                 "header=true, types={'ts_code': 'VARCHAR'})";
}

std::vector<std::string> expected_rows() {
  std::vector<std::string> out;
  for (int s = 0; s < 3; ++s)
    for (int d = kFirst; d <= kLast; ++d) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s|%s|%.2f", kSymbols[s].c_str(), iso_date(d).c_str(),
                    final_close(s, d));
      out.push_back(buf);
    }
  std::sort(out.begin(), out.end());
  return out;
}

class SinkFilesLayout : public ::testing::TestWithParam<std::string> {};

// 3 symbols x 3 years of daily rows, landed as 7 arbitrarily cut tasks: overlapping windows,
// stale values later corrected, a re-fetched page. The files only depend on the final rows.
TEST_P(SinkFilesLayout, ArbitraryTasksGiveOneCompleteFilePerPartition) {
  const std::string kind = GetParam();
  TempDir dir;
  SinkContext ctx{dir / "data", dir / "staging.duckdb"};
  auto s = make_file_sink(kind, ctx, "bars", {"ts_code", "year"});
  ASSERT_TRUE(s->open(bars_table()));
  const std::string out = dir / "data/bars";
  EXPECT_EQ(s->output_dir(), out);
  EXPECT_EQ(s->dirty_key(), kind + ":" + out);

  const int mid2021 = days_from_civil(2021, 6, 30);
  // t1, t2: symbol 0 in two overlapping windows.
  ASSERT_TRUE(s->write(rows_for(0, kFirst, mid2021)));
  ASSERT_TRUE(s->commit(cp("t1")));
  ASSERT_TRUE(s->write(rows_for(0, days_from_civil(2021, 5, 1), kLast)));
  ASSERT_TRUE(s->commit(cp("t2")));
  // t3: symbol 1, page 0 then page 1 fetched twice (the retry re-lands the same rows).
  ASSERT_TRUE(s->write(rows_for(1, kFirst, days_from_civil(2021, 12, 31))));
  ASSERT_TRUE(s->commit(cp("t3", 0)));
  ASSERT_TRUE(s->write(rows_for(1, days_from_civil(2022, 1, 1), kLast)));
  ASSERT_TRUE(s->commit(cp("t3", 1)));
  ASSERT_TRUE(s->write(rows_for(1, days_from_civil(2022, 1, 1), kLast)));
  ASSERT_TRUE(s->commit(cp("t3", 1)));
  // t4: symbol 2 with stale values; t5 and t6 overwrite all of them.
  ASSERT_TRUE(s->write(rows_for(2, kFirst, days_from_civil(2021, 3, 1), -1000)));
  ASSERT_TRUE(s->commit(cp("t4")));
  ASSERT_TRUE(s->write(rows_for(2, days_from_civil(2020, 6, 1), kLast)));
  ASSERT_TRUE(s->commit(cp("t5")));
  ASSERT_TRUE(s->write(rows_for(2, kFirst, days_from_civil(2020, 6, 30))));
  ASSERT_TRUE(s->commit(cp("t6")));
  // t7: pieces of two symbols again, one batch each, one commit.
  ASSERT_TRUE(s->write(rows_for(0, days_from_civil(2022, 12, 1), kLast)));
  ASSERT_TRUE(s->write(rows_for(2, kFirst, days_from_civil(2020, 1, 10))));
  ASSERT_TRUE(s->commit(cp("t7")));
  EXPECT_TRUE(files_under(out).empty());  // nothing is materialized before close()

  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 9);
  EXPECT_EQ(stats->partitions_materialized, 9);

  std::vector<std::string> want_files;
  for (const char* sym : {"000001.SZ", "600000.SH", "X%2FY"})
    for (const char* y : {"2020", "2021", "2022"})
      want_files.push_back(std::string("ts_code=") + sym + "/year=" + y + "/data." + kind);
  std::sort(want_files.begin(), want_files.end());
  EXPECT_EQ(files_under(out), want_files);

  const std::string src = reader(kind, out);
  auto got = query("SELECT ts_code, CAST(trade_date AS VARCHAR), printf('%.2f', close) FROM " +
                   src + " ORDER BY ALL");
  std::vector<std::string> want = expected_rows();
  ASSERT_EQ(got.size(), 3u * 1096u);
  EXPECT_EQ(got, want);
  // The hive year directory agrees with the rows, and every file is sorted by the primary key.
  EXPECT_EQ(query("SELECT count(*) FROM " + src + " WHERE year <> year(trade_date)"),
            std::vector<std::string>{"0"});
  if (kind == "parquet") {
    EXPECT_EQ(query("SELECT count(*) FROM (SELECT (ts_code, trade_date) < lag((ts_code, "
                    "trade_date)) OVER (PARTITION BY filename ORDER BY file_row_number) AS bad "
                    "FROM read_parquet('" +
                    out + "/**/*.parquet', filename=true, file_row_number=true)) WHERE bad"),
              std::vector<std::string>{"0"});
  }

  // A second run touching one partition rewrites exactly that file.
  std::map<std::string, fs::file_time_type> mtimes;
  for (const auto& f : want_files) mtimes[f] = fs::last_write_time(fs::path(out) / f);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto s2 = make_file_sink(kind, ctx, "bars", {"ts_code", "year"});
  ASSERT_TRUE(s2->open(bars_table()));
  RecordBatch fix(bars_schema());
  fix.column(0).append_string("600000.SH");
  fix.column(1).append_int(days_from_civil(2021, 7, 1));
  fix.column(2).append_double(-1.5);
  ASSERT_TRUE(s2->write(fix));
  ASSERT_TRUE(s2->commit(cp("t8")));
  auto stats2 = s2->close();
  ASSERT_TRUE(stats2) << stats2.error().message;
  EXPECT_EQ(stats2->files_written, 1);
  EXPECT_EQ(stats2->partitions_materialized, 1);
  EXPECT_EQ(files_under(out), want_files);
  const std::string changed = "ts_code=600000.SH/year=2021/data." + kind;
  for (const auto& f : want_files) {
    if (f == changed) {
      EXPECT_NE(fs::last_write_time(fs::path(out) / f), mtimes[f]) << f;
    } else {
      EXPECT_EQ(fs::last_write_time(fs::path(out) / f), mtimes[f]) << f;
    }
  }
  EXPECT_EQ(query("SELECT count(*), min(close) FROM " + src),
            (std::vector<std::string>{"3288|-1.5"}));
}

INSTANTIATE_TEST_SUITE_P(Formats, SinkFilesLayout, ::testing::Values("parquet", "csv"));

TEST(SinkFiles, CsvBytesOfASmallTableAreExact) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  Schema schema{{{"ts_code", DataType::string},
                 {"trade_date", DataType::date},
                 {"close", DataType::float64},
                 {"vol", DataType::int64},
                 {"note", DataType::string},
                 {"flag", DataType::boolean},
                 {"ts", DataType::timestamp}}};
  TableSpec t;
  t.plan = "p";
  t.table = "tiny";
  t.schema = schema;
  t.primary_key = {"ts_code", "trade_date"};
  RecordBatch b(schema);
  auto row = [&](const char* code, int day, double close, std::optional<int64_t> vol,
                 std::optional<std::string> note, std::optional<bool> flag,
                 std::optional<int64_t> ts) {
    b.column(0).append_string(code);
    b.column(1).append_int(day);
    b.column(2).append_double(close);
    vol ? b.column(3).append_int(*vol) : b.column(3).append_null();
    note ? b.column(4).append_string(*note) : b.column(4).append_null();
    flag ? b.column(5).append_int(*flag) : b.column(5).append_null();
    ts ? b.column(6).append_int(*ts) : b.column(6).append_null();
  };
  // Written out of key order: the file is sorted by the primary key.
  row("B", days_from_civil(2024, 1, 2), 0.1, 7, std::nullopt, std::nullopt, std::nullopt);
  row("A", days_from_civil(2024, 1, 3), 3.0, std::nullopt, "say \"hi\"", false, 0);
  row("A", days_from_civil(2024, 1, 2), 1.5, 100, "x,y", true, 1704164645123456LL);
  row("C", days_from_civil(2024, 1, 2), 1e20, -1, "line\nbreak", true, std::nullopt);

  auto s = make_file_sink("csv", ctx, "", {});
  ASSERT_TRUE(s->open(t));
  EXPECT_EQ(s->output_dir(), dir / "tiny");  // default: <data_dir>/<table>
  ASSERT_TRUE(s->write(b));
  ASSERT_TRUE(s->commit(cp("t")));
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 1);
  EXPECT_EQ(files_under(dir / "tiny"), std::vector<std::string>{"data.csv"});
  EXPECT_EQ(slurp(dir / "tiny/data.csv"),
            "ts_code,trade_date,close,vol,note,flag,ts\n"
            "A,2024-01-02,1.5,100,\"x,y\",true,2024-01-02 03:04:05.123456\n"
            "A,2024-01-03,3.0,,\"say \"\"hi\"\"\",false,1970-01-01 00:00:00\n"
            "B,2024-01-02,0.1,7,,,\n"
            "C,2024-01-02,1e+20,-1,\"line\nbreak\",true,\n");
}

TEST(SinkFiles, ACrashBeforeMaterializationIsRepairedByTheNextRun) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_file_sink("parquet", ctx, "out", {"year"});
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(rows_for(0, kFirst, days_from_civil(2021, 1, 5))));
    ASSERT_TRUE(s->commit(cp("t1")));
    // Destroyed without close(): the process died before materializing.
  }
  EXPECT_TRUE(files_under(dir / "out").empty());
  auto s = make_file_sink("parquet", ctx, "out", {"year"});
  ASSERT_TRUE(s->open(bars_table()));
  auto landed = s->landed_tasks("p1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 371}}));  // 2020 and 5 days
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 2);
  EXPECT_EQ(files_under(dir / "out"),
            (std::vector<std::string>{"year=2020/data.parquet", "year=2021/data.parquet"}));
  EXPECT_EQ(query("SELECT year, count(*) FROM read_parquet('" +
                  dir / "out/**/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY ALL"),
            (std::vector<std::string>{"2020|366", "2021|5"}));
}

TEST(SinkFiles, ReplaceRemovesTheFilesOfPartitionsThatNoLongerHaveRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_file_sink("parquet", ctx, "out", {"ts_code"}, WriteMode::replace);
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst + 9)));
    ASSERT_TRUE(s->write(rows_for(1, kFirst, kFirst + 9)));
    ASSERT_TRUE(s->commit(cp("t1")));
    ASSERT_EQ(s->close().value().files_written, 2);
  }
  auto s = make_file_sink("parquet", ctx, "out", {"ts_code"}, WriteMode::replace);
  TableSpec replanned = bars_table();
  replanned.plan = "p1-v2";  // replace empties the table once per plan definition
  ASSERT_TRUE(s->open(replanned));
  ASSERT_TRUE(s->write(rows_for(1, kFirst, kFirst + 2)));
  ASSERT_TRUE(s->commit(cp("t2")));
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 1);
  EXPECT_EQ(stats->partitions_materialized, 2);
  EXPECT_EQ(files_under(dir / "out"), std::vector<std::string>{"ts_code=600000.SH/data.parquet"});
  EXPECT_FALSE(fs::exists(dir / "out/ts_code=000001.SZ"));
  EXPECT_EQ(query("SELECT count(*) FROM '" + dir / "out/**/*.parquet'"),
            std::vector<std::string>{"3"});
}

std::unique_ptr<StagingSink> make_partition_replacer(const std::string& kind,
                                                     const SinkContext& ctx,
                                                     std::vector<std::string> partition_by) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec = spec_of(kind, "out", WriteMode::replace, std::move(partition_by));
  spec.replace = ReplaceScope::partition;
  auto s = reg.create(spec, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  if (!s) return nullptr;
  return std::unique_ptr<StagingSink>(dynamic_cast<StagingSink*>(s->release()));
}

Checkpoint scoped(std::string task, int sym, int first_day, int last_day) {
  Checkpoint c = cp(std::move(task));
  c.scope.equals = {{"ts_code", kSymbols[sym]}};
  c.scope.time_column = "trade_date";
  c.scope.first_day = first_day;
  c.scope.last_day = last_day;
  return c;
}

// Re-landing one symbol's window rewrites that symbol's file only; the other files keep their
// bytes and inodes.
TEST(SinkFiles, ReplacePartitionRewritesOnlyTheFilesOfTheTasksRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_partition_replacer("parquet", ctx, {"ts_code"});
    ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
    for (int sym = 0; sym < 3; ++sym) {
      ASSERT_TRUE(s->write(rows_for(sym, kFirst, kFirst + 9)));
      ASSERT_TRUE(s->commit(scoped("t" + std::to_string(sym), sym, kFirst, kFirst + 9)));
    }
    ASSERT_EQ(s->close().value().files_written, 3);
  }
  const std::string untouched = dir / "out/ts_code=000001.SZ/data.parquet";
  const std::string before = slurp(untouched);
  struct stat st0 {};
  ASSERT_EQ(::stat(untouched.c_str(), &st0), 0);

  auto s = make_partition_replacer("parquet", ctx, {"ts_code"});
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
  // Symbol 1's days 3..7 again: the vendor now has days 3..5 only, with new values.
  ASSERT_TRUE(s->write(rows_for(1, kFirst + 3, kFirst + 5, 0.5)));
  ASSERT_TRUE(s->commit(scoped("t1", 1, kFirst + 3, kFirst + 7)));
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 1);
  EXPECT_EQ(stats->partitions_materialized, 1);
  EXPECT_EQ(slurp(untouched), before);
  struct stat st1 {};
  ASSERT_EQ(::stat(untouched.c_str(), &st1), 0);
  EXPECT_EQ(st1.st_ino, st0.st_ino);
  EXPECT_EQ(
      query("SELECT ts_code, count(*), sum(close) FROM " + reader("parquet", dir / "out") +
            " GROUP BY ALL ORDER BY ALL"),
      (std::vector<std::string>{"000001.SZ|10|47.5", "600000.SH|8|80035.5", "X/Y|10|200047.5"}));
  EXPECT_EQ(
      query("SELECT strftime(trade_date, '%d'), close FROM " + reader("parquet", dir / "out") +
            " WHERE ts_code = '600000.SH' ORDER BY trade_date"),
      (std::vector<std::string>{"01|10000.25", "02|10001.25", "03|10002.25", "04|10003.75",
                                "05|10004.75", "06|10005.75", "09|10008.25", "10|10009.25"}));
}

// Without partition_by the one file is rewritten from the table, the replaced window included.
TEST(SinkFiles, ReplacePartitionIntoOneCsvFileIsExact) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make_partition_replacer("csv", ctx, {});
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst + 2)));
  ASSERT_TRUE(s->commit(scoped("a", 0, kFirst, kFirst + 2)));
  ASSERT_TRUE(s->write(rows_for(2, kFirst, kFirst + 1)));
  ASSERT_TRUE(s->commit(scoped("b", 2, kFirst, kFirst + 2)));
  ASSERT_TRUE(s->write(rows_for(0, kFirst + 1, kFirst + 1, 1)));
  ASSERT_TRUE(s->commit(scoped("a", 0, kFirst + 1, kFirst + 2)));
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 1);
  EXPECT_EQ(slurp(dir / "out/data.csv"),
            "ts_code,trade_date,close\n"
            "000001.SZ,2020-01-01,0.25\n"
            "000001.SZ,2020-01-02,2.25\n"
            "X/Y,2020-01-01,20000.25\n"
            "X/Y,2020-01-02,20001.25\n");
}

TEST(SinkFiles, ChangingPartitionByRewritesTheWholeOutput) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_file_sink("parquet", ctx, "out", {});
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst + 4)));
    ASSERT_TRUE(s->write(rows_for(2, kFirst, kFirst + 4)));
    ASSERT_TRUE(s->commit(cp("t1")));
    ASSERT_EQ(s->close().value().files_written, 1);
    EXPECT_EQ(files_under(dir / "out"), std::vector<std::string>{"data.parquet"});
  }
  auto s = make_file_sink("parquet", ctx, "out", {"ts_code"});
  ASSERT_TRUE(s->open(bars_table()));
  auto stats = s->close();  // no new rows: the layout change alone rewrites everything
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 2);
  EXPECT_EQ(files_under(dir / "out"), (std::vector<std::string>{"ts_code=000001.SZ/data.parquet",
                                                                "ts_code=X%2FY/data.parquet"}));
  EXPECT_EQ(query("SELECT ts_code, count(*) FROM '" + dir / "out/**/*.parquet' GROUP BY ALL "
                                                            "ORDER BY ALL"),
            (std::vector<std::string>{"000001.SZ|5", "X/Y|5"}));
}

TEST(SinkFiles, SchemaDriftEvolveRewritesEveryPartitionWithTheNewColumn) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_file_sink("csv", ctx, "out", {"ts_code"});
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst + 1)));
    ASSERT_TRUE(s->write(rows_for(1, kFirst, kFirst)));
    ASSERT_TRUE(s->commit(cp("t1")));
    ASSERT_EQ(s->close().value().files_written, 2);
  }
  TableSpec wider = bars_table();
  wider.schema.fields.push_back({"vol", DataType::int64});
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec = spec_of("csv", "out", WriteMode::upsert, {"ts_code"});
  {
    auto refused = reg.create(spec, ctx).value();
    auto r = refused->open(wider);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("(schema_drift: fail): missing column vol BIGINT; expected"),
              std::string::npos)
        << r.error().message;
  }
  spec.schema_drift = SchemaDrift::evolve;
  auto s = reg.create(spec, ctx).value();
  ASSERT_TRUE(s->open(wider));
  // One new row in the first symbol's partition only; the second's file is rewritten too.
  RecordBatch b(wider.schema);
  b.column(0).append_string(kSymbols[0]);
  b.column(1).append_int(kFirst + 2);
  b.column(2).append_double(9.5);
  b.column(3).append_int(42);
  ASSERT_TRUE(s->write(b));
  ASSERT_TRUE(s->commit(cp("t2")));
  auto stats = s->close();
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->columns_added, 1);
  EXPECT_EQ(stats->files_written, 2);
  EXPECT_EQ(slurp(dir / "out/ts_code=000001.SZ/data.csv"),
            "ts_code,trade_date,close,vol\n"
            "000001.SZ,2020-01-01,0.25,\n"
            "000001.SZ,2020-01-02,1.25,\n"
            "000001.SZ,2020-01-03,9.5,42\n");
  EXPECT_EQ(slurp(dir / "out/ts_code=600000.SH/data.csv"),
            "ts_code,trade_date,close,vol\n"
            "600000.SH,2020-01-01,10000.25,\n");
}

TEST(SinkFiles, ADeletedOutputDirectoryIsRebuiltFromTheStagingStore) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make_file_sink("csv", ctx, "out", {"ts_code"});
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst + 4)));
    ASSERT_TRUE(s->write(rows_for(1, kFirst, kFirst + 4)));
    ASSERT_TRUE(s->commit(cp("t1")));
    ASSERT_EQ(s->close().value().files_written, 2);
  }
  fs::remove_all(dir / "out");
  auto s = make_file_sink("csv", ctx, "out", {"ts_code"});
  ASSERT_TRUE(s->open(bars_table()));
  EXPECT_EQ(s->close().value().files_written, 2);
  EXPECT_EQ(files_under(dir / "out"),
            (std::vector<std::string>{"ts_code=000001.SZ/data.csv", "ts_code=600000.SH/data.csv"}));
}

TEST(SinkFiles, StaleTempFilesOfADeadRunAreRemoved) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  fs::create_directories(dir / "out");
  { std::ofstream(dir / "out/.data.parquet.tmp-12345") << "partial"; }
  auto s = make_file_sink("parquet", ctx, "out", {});
  ASSERT_TRUE(s->open(bars_table()));
  ASSERT_TRUE(s->write(rows_for(0, kFirst, kFirst)));
  ASSERT_TRUE(s->commit(cp("t")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(files_under(dir / "out"), std::vector<std::string>{"data.parquet"});
}

TEST(SinkFiles, PartitionValuesAreEscapedForDirectoryNames) {
  EXPECT_EQ(escape_partition_value(std::string("000001.SZ")), "000001.SZ");
  EXPECT_EQ(escape_partition_value(std::string("a/b")), "a%2Fb");
  EXPECT_EQ(escape_partition_value(std::string("..")), "..");
  EXPECT_EQ(escape_partition_value(std::string("k=v %")), "k%3Dv%20%25");
  EXPECT_EQ(escape_partition_value(std::string("\xC3\xA9")), "%C3%A9");
  EXPECT_EQ(escape_partition_value(std::string("")), "");
  EXPECT_EQ(escape_partition_value(std::nullopt), "NULL");
}

TEST(SinkFiles, RejectsBadPartitionSpecsAndMissingWorkspace) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto bad_col = make_file_sink("parquet", ctx, "out", {"exchange"});
  auto r = bad_col->open(bars_table());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("'exchange'"), std::string::npos) << r.error().message;

  TableSpec no_time = bars_table();
  no_time.time_column.clear();
  auto no_year = make_file_sink("csv", ctx, "out", {"year"});
  EXPECT_EQ(no_year->open(no_time).error().kind, ErrorKind::invalid_input);

  SinkRegistry reg;
  register_builtin_sinks(reg);
  auto none =
      reg.create(spec_of("parquet", "out", WriteMode::upsert, {}), SinkContext{dir.path(), ""});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::invalid_input);
  auto unknown = reg.create(spec_of("orc", "", WriteMode::upsert, {}), ctx);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::invalid_input);
  // An absolute path is used as is.
  auto abs = make_file_sink("parquet", ctx, dir / "elsewhere", {});
  EXPECT_EQ(abs->output_dir(), dir / "elsewhere");
}

// Run with --gtest_also_run_disabled_tests; numbers go to docs/sinks.md.
TEST(SinkFilesBench, DISABLED_Materialize1000PartitionsToParquet) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make_file_sink("parquet", ctx, "out", {"ts_code", "year"});
  ASSERT_TRUE(s->open(bars_table()));
  // 250 symbols x 4 years (2019-2022) of daily rows = 1000 partitions, ~365k rows.
  int rows = 0;
  for (int sym = 0; sym < 250; ++sym) {
    RecordBatch b(bars_schema());
    char code[16];
    std::snprintf(code, sizeof code, "%06d.SZ", sym);
    for (int d = days_from_civil(2019, 1, 1); d <= kLast; ++d, ++rows) {
      b.column(0).append_string(code);
      b.column(1).append_int(d);
      b.column(2).append_double(sym + d * 0.001);
    }
    ASSERT_TRUE(s->write(b));
    ASSERT_TRUE(s->commit(cp("t" + std::to_string(sym))));
  }
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu0 = std::clock();
  auto stats = s->materialize();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->files_written, 1000);
  std::printf("parquet: materialized %lld partitions (%d rows) in %.2f s (cpu %.2f s)\n",
              static_cast<long long>(stats->partitions_materialized), rows, secs, cpu);
  ASSERT_TRUE(s->close());
  EXPECT_EQ(files_under(dir / "out").size(), 1000u);
}

}  // namespace
}  // namespace finsync::sink
