// The sqlite sink against real SQLite files, read back through a separate connection: types as
// stored, upsert, append, replace: partition, markers, drift, rejected values, spec keys. Flat
// memory over 1,000,000 rows: tests/integration/sink_memory.sh.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "db_sink_rows.hpp"
#include "sink/registry.hpp"
#include "sink/schema_diff.hpp"

namespace finsync::sink {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/finsync-sqlite-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Every row of `sql` from a connection of its own, columns joined by '|', NULL as "NULL".
std::vector<std::string> read_rows(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  std::vector<std::string> out;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << file;
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return out;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (c) row += '|';
      const auto* t = sqlite3_column_text(st, c);
      row += t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    out.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

using test::all_types;
using test::cp;
using test::rows_of;
using test::table_of;

std::unique_ptr<Sink> make(const fs::path& dir, SinkSpec spec = {}) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  spec.kind = "sqlite";
  if (spec.path.empty()) spec.path = "bars.sqlite";
  auto s = reg.create(spec, SinkContext{dir.string(), ""});
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : nullptr;
}

TEST(SinkSqlite, StoresEachTypeAsDocumentedAndUpsertsOnTheKey) {
  TempDir d;
  auto s = make(d.path);
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 3)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/1", 3)));
  const fs::path file = d.path / "bars.sqlite";
  EXPECT_EQ(read_rows(file, "SELECT sql FROM sqlite_master WHERE name = 'bars'"),
            std::vector<std::string>{
                "CREATE TABLE \"bars\"(\"sym\" TEXT NOT NULL, \"day\" TEXT NOT NULL, \"at\" "
                "TEXT, \"close\" REAL, \"vol\" INTEGER, \"ok\" INTEGER, PRIMARY KEY(\"sym\", "
                "\"day\")) WITHOUT ROWID, STRICT"});
  EXPECT_EQ(read_rows(file, "SELECT *, typeof(close), typeof(vol) FROM bars ORDER BY day"),
            (std::vector<std::string>{
                "000001.SZ|2024-02-28|2024-02-28T09:30:00.123456Z|1.25|0|0|real|integer",
                "000001.SZ|2024-02-29|2024-02-29T09:30:00.123456Z|2.25|NULL|1|real|null",
                "000001.SZ|2024-03-01|2024-03-01T09:30:00.123456Z|3.25|2000|0|real|integer"}));
  // A corrected bar replaces the old one; a key repeated inside one landing keeps the last.
  RecordBatch fix = rows_of("000001.SZ", 1, 9.5, 1);
  ASSERT_TRUE(s->write(fix));
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 1, 7.5, 1)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/2", 2)));
  EXPECT_EQ(read_rows(file, "SELECT day, close FROM bars ORDER BY day"),
            (std::vector<std::string>{"2024-02-28|1.25", "2024-02-29|7.5", "2024-03-01|3.25"}));
  EXPECT_EQ(read_rows(file,
                      "SELECT plan, task_id, \"window\", page, \"rows\" FROM "
                      "_finsync_landed ORDER BY task_id"),
            (std::vector<std::string>{"p#1|p/000001.SZ/1|20240228-20240302|0|3",
                                      "p#1|p/000001.SZ/2|20240228-20240302|0|2"}));
  EXPECT_EQ(read_rows(file, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  auto landed = s->landed_tasks("p#1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"p/000001.SZ/1", 3}, {"p/000001.SZ/2", 2}}));
  EXPECT_FALSE(s->multi_writer());
  auto stats = s->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->commits, 2);
}

TEST(SinkSqlite, AppendKeepsEveryRowAndCreatesNoKeyConstraint) {
  TempDir d;
  auto s = make(d.path);
  ASSERT_TRUE(s->open(table_of(WriteMode::append)));
  ASSERT_TRUE(s->write(rows_of("A", 2)));
  ASSERT_TRUE(s->commit(cp("t1", 2)));
  ASSERT_TRUE(s->write(rows_of("A", 2)));
  ASSERT_TRUE(s->commit(cp("t2", 2)));
  const fs::path file = d.path / "bars.sqlite";
  EXPECT_EQ(read_rows(file, "SELECT count(*), count(DISTINCT day) FROM bars"),
            std::vector<std::string>{"4|2"});
  EXPECT_EQ(read_rows(file,
                      "SELECT name, \"notnull\", pk FROM pragma_table_info('bars') WHERE "
                      "name IN ('sym', 'close')"),
            (std::vector<std::string>{"sym|1|0", "close|0|0"}));
}

TEST(SinkSqlite, ReplacePartitionRewritesExactlyTheTasksRows) {
  TempDir d;
  SinkSpec spec;
  spec.mode = WriteMode::replace;
  spec.replace = ReplaceScope::partition;
  auto s = make(d.path, spec);
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 4)));  // 02-28 .. 03-02
  ASSERT_TRUE(s->write(rows_of("B", 4)));
  ASSERT_TRUE(s->commit(cp("t0", 8)));
  // A's window 02-28..02-29 comes back with one bar only.
  Checkpoint c = cp("tA", 1);
  c.scope.equals = {{"sym", "A"}};
  c.scope.time_column = "day";
  c.scope.first_day = dates::days_from_civil(2024, 2, 28);
  c.scope.last_day = dates::days_from_civil(2024, 2, 29);
  ASSERT_TRUE(s->write(rows_of("A", 1, 50)));
  ASSERT_TRUE(s->commit(c));
  EXPECT_EQ(read_rows(d.path / "bars.sqlite", "SELECT sym, day, close FROM bars ORDER BY sym, day"),
            (std::vector<std::string>{"A|2024-02-28|50.0", "A|2024-03-01|3.25", "A|2024-03-02|4.25",
                                      "B|2024-02-28|1.25", "B|2024-02-29|2.25", "B|2024-03-01|3.25",
                                      "B|2024-03-02|4.25"}));
}

TEST(SinkSqlite, SchemaDriftEvolveAltersTheTableAndFailNamesTheDifference) {
  TempDir d;
  Schema small{{{"sym", DataType::string}, {"day", DataType::date}, {"close", DataType::float64}}};
  {
    auto s = make(d.path);
    ASSERT_TRUE(s->open(table_of(WriteMode::upsert, small)));
    RecordBatch b(small);
    b.column(0).append_string("A");
    b.column(1).append_int(dates::days_from_civil(2024, 1, 2));
    b.column(2).append_double(3);
    ASSERT_TRUE(s->write(b));
    ASSERT_TRUE(s->commit(cp("t0", 1)));
    ASSERT_TRUE(s->close());
  }
  {
    auto s = make(d.path);
    auto r = s->open(table_of());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_EQ(r.error().message,
              "sqlite sink " + (d.path / "bars.sqlite").string() +
                  " table bars: open: table bars does not match the plan's schema (schema_drift: "
                  "fail): missing column at TEXT; missing column vol INTEGER; missing column ok "
                  "INTEGER; expected (sym TEXT NOT NULL, day TEXT NOT NULL, at TEXT, close REAL, "
                  "vol INTEGER, ok INTEGER), found (sym TEXT NOT NULL, day TEXT NOT NULL, close "
                  "REAL)");
  }
  SinkSpec spec;
  spec.schema_drift = SchemaDrift::evolve;
  auto s = make(d.path, spec);
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 1)));
  ASSERT_TRUE(s->commit(cp("t1", 1)));
  EXPECT_EQ(read_rows(d.path / "bars.sqlite", "SELECT * FROM bars ORDER BY day"),
            (std::vector<std::string>{"A|2024-01-02|3.0|NULL|NULL|NULL",
                                      "A|2024-02-28|1.25|2024-02-28T09:30:00.123456Z|0|0"}));
  auto stats = s->close();
  EXPECT_EQ(stats->columns_added, 3);
}

TEST(SinkSqlite, RejectsWhatSqliteWouldChange) {
  TempDir d;
  auto s = make(d.path);
  ASSERT_TRUE(s->open(table_of()));
  RecordBatch b = rows_of("A", 1);
  b.column(3) = Column(DataType::float64);
  b.column(3).append_double(std::nan(""));
  auto r = s->write(b);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("row 1, column close: nan cannot be stored in a sqlite float "
                                   "column"),
            std::string::npos)
      << r.error().message;
  ASSERT_TRUE(s->rollback());
  RecordBatch y = rows_of("A", 1);
  y.column(1) = Column(DataType::date);
  y.column(1).append_int(dates::days_from_civil(10000, 1, 1));
  r = s->write(y);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("column day: date 10000-01-01 is outside what a sqlite date "
                                   "holds (0000-01-01..9999-12-31, stored as ISO 8601 text)"),
            std::string::npos)
      << r.error().message;
}

TEST(SinkSqlite, UnknownKeysAreRejectedWithWhereTheyWereWritten) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = "sqlite";
  spec.options["pth"] = "x.sqlite";
  spec.where["pth"] = "plans/a.yaml:12:9: sink.pth";
  auto s = reg.create(spec, SinkContext{"/tmp", ""});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "plans/a.yaml:12:9: sink.pth: 'pth' is not an option of sqlite sinks (did you mean "
            "'path'?); expected one of kind, table, mode, path, replace, batch_size, "
            "schema_drift, max_retries");
}

}  // namespace
}  // namespace finsync::sink
