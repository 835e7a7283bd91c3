// The excel sink: sheet names and the row-limit split, what a cell can hold, and the life cycle
// of a workbook rebuilt from the staging store (its contents are read back with openpyxl in
// tests/integration/sink_excel.sh).
#include <duckdb.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "sink/excel/cell_values.hpp"
#include "sink/excel/excel_sink.hpp"
#include "sink/excel/sheet_layout.hpp"
#include "sink/registry.hpp"

namespace finsync::sink {
namespace {

namespace fs = std::filesystem;
using excel::sanitize_sheet_name;
using excel::SheetNames;
using excel::SheetSplit;

TEST(ExcelSheetNames, ForbiddenCharactersApostrophesAndLength) {
  EXPECT_EQ(sanitize_sheet_name("600000.SH"), "600000.SH");
  EXPECT_EQ(sanitize_sheet_name("a[b]c:d*e?f/g\\h"), "a_b_c_d_e_f_g_h");
  EXPECT_EQ(sanitize_sheet_name("'quoted'"), "quoted");
  EXPECT_EQ(sanitize_sheet_name("''"), "_");
  EXPECT_EQ(sanitize_sheet_name(""), "_");
  EXPECT_EQ(sanitize_sheet_name("history"), "history_");
  EXPECT_EQ(sanitize_sheet_name("History"), "History_");
  EXPECT_EQ(sanitize_sheet_name(std::string(40, 'x')), std::string(31, 'x'));
  // A cut that ends on an apostrophe drops it.
  EXPECT_EQ(sanitize_sheet_name(std::string(30, 'x') + "'yz"), std::string(30, 'x'));
  // 31 characters, not bytes; a character outside the BMP counts two (UTF-16), and is never
  // split; a stray byte that is not UTF-8 becomes '_'.
  std::string han;
  for (int i = 0; i < 40; ++i) han += "\xe8\x82\xa1";  // 股
  EXPECT_EQ(sanitize_sheet_name(han), han.substr(0, 31 * 3));
  std::string emoji;
  for (int i = 0; i < 20; ++i) emoji += "\xf0\x9f\x93\x88";  // U+1F4C8
  EXPECT_EQ(sanitize_sheet_name(emoji), emoji.substr(0, 15 * 4));
  EXPECT_EQ(sanitize_sheet_name("a\xff"
                                "b"),
            "a_b");
}

TEST(ExcelSheetNames, UniqueIgnoringCaseWithinTheLengthLimit) {
  SheetNames n;
  EXPECT_EQ(n.unique("AAPL"), "AAPL");
  EXPECT_EQ(n.unique("aapl"), "aapl (2)");
  EXPECT_EQ(n.unique("AAPL"), "AAPL (3)");
  EXPECT_EQ(n.unique("a/b"), "a_b");
  EXPECT_EQ(n.unique("a:b"), "a_b (2)");  // different symbols, same sanitized name
  const std::string long_name(40, 'L');
  EXPECT_EQ(n.unique(long_name), std::string(31, 'L'));
  EXPECT_EQ(n.unique(long_name), std::string(27, 'L') + " (2)");
  for (int i = 3; i <= 10; ++i) n.unique(long_name);
  EXPECT_EQ(n.unique(long_name), std::string(26, 'L') + " (11)");
  // A real symbol that looks like a continuation still gets a name of its own.
  EXPECT_EQ(n.unique("AAPL (2)"), "AAPL (2) (2)");
}

TEST(ExcelSheetSplit, ANewSheetAfterTheRowLimitAndPerGroup) {
  SheetSplit s(3);
  std::vector<std::string> started;
  std::vector<int64_t> rows;
  for (std::string g : {"A", "A", "A", "A", "A", "A", "A", "B", "B", "a"}) {
    if (auto name = s.next(g)) started.push_back(*name);
    rows.push_back(s.row());
  }
  EXPECT_EQ(started, (std::vector<std::string>{"A", "A (2)", "A (3)", "B", "a (4)"}));
  EXPECT_EQ(rows, (std::vector<int64_t>{1, 2, 3, 1, 2, 3, 1, 1, 2, 1}));
  EXPECT_EQ(s.sheets(), 5);
}

TEST(ExcelSheetSplit, TheDefaultLimitIsExcelsRowsUnderTheHeader) {
  EXPECT_EQ(excel::kMaxSheetRows, 1'048'575);
  SheetSplit s;
  ASSERT_TRUE(s.next("one"));
  for (int64_t i = 2; i <= excel::kMaxSheetRows; ++i) ASSERT_FALSE(s.next("one")) << i;
  EXPECT_EQ(s.row(), 1'048'575);
  EXPECT_EQ(s.next("one"), "one (2)");
  EXPECT_EQ(s.row(), 1);
}

TEST(ExcelCells, SerialNumbers) {
  EXPECT_EQ(excel::excel_date(0), 25569.0);          // 1970-01-01
  EXPECT_EQ(excel::excel_date(-25508), 61.0);        // 1900-03-01
  EXPECT_EQ(excel::excel_date(2932896), 2958465.0);  // 9999-12-31
  EXPECT_EQ(excel::excel_datetime(0), 25569.0);
  EXPECT_EQ(excel::excel_datetime(43'200'000'000), 25569.5);   // 1970-01-01 12:00
  EXPECT_EQ(excel::excel_datetime(-43'200'000'000), 25568.5);  // 1969-12-31 12:00
  EXPECT_NEAR(excel::excel_datetime(1'000), 25569.0 + 1e-3 / 86400, 1e-12);
}

RecordBatch one_value(DataType t, auto value) {
  RecordBatch b(Schema{{{"k", DataType::string}, {"v", t}}});
  b.column(0).append_string("A");
  b.column(0).append_string("B");
  b.column(1).append_null();
  if constexpr (std::is_same_v<decltype(value), double>)
    b.column(1).append_double(value);
  else if constexpr (std::is_same_v<decltype(value), std::string>)
    b.column(1).append_string(value);
  else
    b.column(1).append_int(value);
  return b;
}

std::string cell_error(const RecordBatch& b) {
  auto r = excel::check_cells(b, "excel sink x.xlsx");
  if (r) return "";
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  return r.error().message;
}

TEST(ExcelCells, ValuesACellCannotHoldAreRejectedNamingRowColumnAndValue) {
  constexpr int64_t day = 86'400'000'000;
  EXPECT_EQ(cell_error(one_value(DataType::int64, int64_t(1) << 53)), "");
  EXPECT_EQ(cell_error(one_value(DataType::int64, (int64_t(1) << 53) + 1)),
            "excel sink x.xlsx: row 2, column v: 9007199254740993 is beyond ±2^53, which an "
            "Excel number (a double) cannot hold exactly; nothing of this batch was written");
  EXPECT_EQ(cell_error(one_value(DataType::float64, 1.5)), "");
  EXPECT_EQ(cell_error(one_value(DataType::float64, std::nan(""))),
            "excel sink x.xlsx: row 2, column v: nan has no Excel cell value; nothing of this "
            "batch was written");
  EXPECT_NE(cell_error(one_value(DataType::float64, std::numeric_limits<double>::infinity())), "");
  EXPECT_EQ(cell_error(one_value(DataType::date, int64_t(-25508))), "");
  EXPECT_EQ(cell_error(one_value(DataType::date, int64_t(2932896))), "");
  EXPECT_EQ(cell_error(one_value(DataType::date, int64_t(-25509))),
            "excel sink x.xlsx: row 2, column v: date 1900-02-28 is outside what an Excel date "
            "holds (1900-03-01..9999-12-31); nothing of this batch was written");
  EXPECT_NE(cell_error(one_value(DataType::date, int64_t(2932897))), "");
  EXPECT_EQ(cell_error(one_value(DataType::timestamp, int64_t(2932897) * day - 1)), "");
  EXPECT_EQ(cell_error(one_value(DataType::timestamp, int64_t(-25508) * day - 1)),
            "excel sink x.xlsx: row 2, column v: timestamp 1900-02-28T23:59:59.999999Z is outside "
            "what an Excel date holds (1900-03-01..9999-12-31); nothing of this batch was written");
  EXPECT_EQ(cell_error(one_value(DataType::string, std::string(32'767, 'x'))), "");
  EXPECT_NE(cell_error(one_value(DataType::string, std::string(32'768, 'x')))
                .find("a text of 32768 characters; an Excel cell holds 32767"),
            std::string::npos);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "finsync_sink_excel_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

TableSpec bars_table() {
  return TableSpec{
      "plan@1",
      "bars",
      Schema{{{"sym", DataType::string}, {"day", DataType::date}, {"close", DataType::float64}}},
      {"sym", "day"},
      "day",
      WriteMode::upsert};
}

RecordBatch bars(std::vector<std::tuple<std::string, int, double>> rows) {
  RecordBatch b(bars_table().schema);
  for (const auto& [s, d, c] : rows) {
    b.column(0).append_string(s);
    b.column(1).append_int(d);
    b.column(2).append_double(c);
  }
  return b;
}

Result<std::unique_ptr<Sink>> make(const TempDir& dir,
                                   std::map<std::string, std::string> options = {}) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = "excel";
  spec.options = std::move(options);
  return reg.create(spec, SinkContext{dir / "data", dir / "data/finsync.duckdb"});
}

Checkpoint cp(std::string task) {
  Checkpoint c;
  c.task_id = std::move(task);
  c.persist = [] { return Result<void>{}; };
  return c;
}

struct stat stat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st;
}

TEST(ExcelSink, AWorkbookIsRebuiltOnlyWhenALandingChangedItOrItIsMissing) {
  TempDir dir;
  const std::string book = dir / "data/bars.xlsx";
  {
    auto s = make(dir).value();
    ASSERT_TRUE(s->open(bars_table()));
    EXPECT_FALSE(s->multi_writer());
    ASSERT_TRUE(s->write(bars({{"A", 1, 1.5}, {"B", 2, 2.5}})));
    ASSERT_TRUE(s->commit(cp("t1")));
    EXPECT_FALSE(fs::exists(book));  // built at close, once per run
    auto stats = s->close();
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->files_written, 1);
    EXPECT_EQ(stats->partitions_materialized, 1);  // sheets
  }
  ASSERT_TRUE(fs::exists(book));
  const auto first = stat_of(book);
  EXPECT_EQ(std::vector<std::string>{}, [&] {
    std::vector<std::string> stray;
    for (const auto& e : fs::directory_iterator(dir / "data"))
      if (e.path().filename().string().rfind(".bars.xlsx.tmp-", 0) == 0) stray.push_back(e.path());
    return stray;
  }());
  {  // Nothing landed: the workbook stays as it is.
    auto s = make(dir).value();
    ASSERT_TRUE(s->open(bars_table()));
    EXPECT_EQ(s->landed_tasks("plan@1").value(), (std::map<std::string, int64_t>{{"t1", 2}}));
    EXPECT_EQ(s->close().value().files_written, 0);
    EXPECT_EQ(stat_of(book).st_ino, first.st_ino);
  }
  {  // A crash after the landing and before the build: the next close builds it.
    auto s = make(dir).value();
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(bars({{"A", 1, 9.5}})));
    ASSERT_TRUE(s->commit(cp("t2")));
    s.reset();  // no close(): the workbook is stale now
    EXPECT_EQ(stat_of(book).st_ino, first.st_ino);
  }
  {
    auto s = make(dir).value();
    ASSERT_TRUE(s->open(bars_table()));
    EXPECT_EQ(s->close().value().files_written, 1);
    EXPECT_NE(stat_of(book).st_ino, first.st_ino);
  }
  fs::remove(book);
  {  // A deleted workbook comes back; export rebuilds whatever changed.
    auto s = make(dir).value();
    ASSERT_TRUE(s->open(bars_table()));
    auto e = excel::export_workbook(*s);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->files_written, 1);
    EXPECT_TRUE(fs::exists(book));
    EXPECT_EQ(s->close().value().files_written, 0);
  }
}

// The staging table's rows, read by an instance of its own after the sink closed.
std::vector<std::string> staged_rows(const std::string& store) {
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  std::vector<std::string> out;
  EXPECT_EQ(duckdb_open(nullptr, &db), DuckDBSuccess);
  duckdb_connect(db, &con);
  duckdb_result res;
  const std::string sql = "ATTACH '" + store +
                          "' AS s (READ_ONLY); SELECT sym || '|' || day || '|' || close FROM "
                          "s.bars ORDER BY sym, day";
  if (duckdb_query(con, sql.c_str(), &res) == DuckDBSuccess) {
    for (idx_t r = 0; r < duckdb_row_count(&res); ++r) {
      char* v = duckdb_value_varchar(&res, 0, r);
      out.push_back(v);
      duckdb_free(v);
    }
  } else {
    ADD_FAILURE() << duckdb_result_error(&res);
  }
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return out;
}

TEST(ExcelSink, ReplacePartitionReplacesTheTasksRowsAndRebuildsTheWorkbook) {
  TempDir dir;
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = "excel";
  spec.mode = WriteMode::replace;
  spec.replace = ReplaceScope::partition;
  auto scoped = [](std::string task, std::string sym, int first, int last) {
    Checkpoint c = cp(std::move(task));
    c.scope.equals = {{"sym", std::move(sym)}};
    c.scope.time_column = "day";
    c.scope.first_day = first;
    c.scope.last_day = last;
    return c;
  };
  const SinkContext ctx{dir / "data", dir / "data/finsync.duckdb"};
  {
    auto s = reg.create(spec, ctx).value();
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(bars({{"A", 1, 1.5}, {"A", 2, 2.5}, {"A", 3, 3.5}})));
    ASSERT_TRUE(s->commit(scoped("a", "A", 1, 3)));
    ASSERT_TRUE(s->write(bars({{"B", 2, 20.5}})));
    ASSERT_TRUE(s->commit(scoped("b", "B", 1, 3)));
    ASSERT_EQ(s->close().value().files_written, 1);
  }
  const auto first = stat_of(dir / "data/bars.xlsx");
  {
    auto s = reg.create(spec, ctx).value();
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(bars({{"A", 2, 7.5}})));
    ASSERT_TRUE(s->commit(scoped("a", "A", 2, 3)));
    ASSERT_EQ(s->close().value().files_written, 1);
  }
  EXPECT_NE(stat_of(dir / "data/bars.xlsx").st_ino, first.st_ino);
  EXPECT_EQ(
      staged_rows(dir / "data/finsync.duckdb"),
      (std::vector<std::string>{"A|1970-01-02|1.5", "A|1970-01-03|7.5", "B|1970-01-03|20.5"}));
}

TEST(ExcelSink, ARejectedValueLandsNothing) {
  TempDir dir;
  auto s = make(dir).value();
  ASSERT_TRUE(s->open(bars_table()));
  auto w = s->write(bars({{"A", 1, 1.0}, {"A", 2, std::nan("")}}));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message,
            "excel sink " + (dir / "data/bars.xlsx") +
                ", table bars: row 2, column close: nan has no Excel cell value; nothing of this "
                "batch was written");
  ASSERT_TRUE(s->commit(cp("t1")));
  EXPECT_EQ(s->landed_tasks("plan@1").value(), (std::map<std::string, int64_t>{{"t1", 0}}));
  ASSERT_TRUE(s->close());
}

TEST(ExcelSink, OptionsAreCheckedBeforeAnythingIsOpened) {
  TempDir dir;
  auto error = [&](std::map<std::string, std::string> o, std::string path = "") {
    SinkRegistry reg;
    register_builtin_sinks(reg);
    SinkSpec spec;
    spec.kind = "excel";
    spec.path = std::move(path);
    spec.options = std::move(o);
    auto s = reg.create(spec, SinkContext{dir / "data", dir / "data/finsync.duckdb"});
    if (s) return std::string();
    EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
    return s.error().message;
  };
  EXPECT_EQ(error({{"sheets", "per_symbol"}, {"sheet_rows", "1048575"}}), "");
  EXPECT_NE(error({{"sheets", "per_day"}}).find("expected one of"), std::string::npos);
  EXPECT_EQ(error({{"sheet_rows", "1048576"}}),
            "sink.sheet_rows: 1048576 is more data rows than a worksheet holds (1048575)");
  EXPECT_NE(error({{"sheet_rows", "0"}}), "");
  EXPECT_EQ(error({{"sheet_column", "sym"}}),
            "sink.sheet_column: sheet_column applies to sheets: per_symbol");
  EXPECT_EQ(error({}, "bars.xls"),
            "sink.path: 'bars.xls' does not end in .xlsx (Excel opens workbooks by their "
            "extension)");
  EXPECT_NE(error({{"partition_by", "x"}}).find("not an option of excel sinks"), std::string::npos);

  auto s = make(dir, {{"sheets", "per_symbol"}, {"sheet_column", "nope"}}).value();
  auto r = s->open(bars_table());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "excel sink " + (dir / "data/bars.xlsx") +
                                   ": sheet_column 'nope' is not a column of the endpoint");
  TableSpec only_time = bars_table();
  only_time.primary_key = {"day"};
  auto s2 = make(dir, {{"sheets", "per_symbol"}}).value();
  EXPECT_NE(s2->open(only_time).error().message.find("sheets: per_symbol needs a sheet_column"),
            std::string::npos);
}

}  // namespace
}  // namespace finsync::sink
