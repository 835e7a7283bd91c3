// The mysql sink against the test server (FINSYNC_TEST_MYSQL_DSN), read back through a separate
// connection, with each load path (LOAD DATA LOCAL INFILE streamed from memory, multi-row
// INSERT): types, upsert (a key repeated inside one landing and across its pieces; a column the
// plan does not write), append, replace, strings that need escaping, values out of range, a
// connection killed mid-landing, passwords, drift, `sinks check`. The DSN parser and the text
// encoders are tested without a server. Flat memory: tests/integration/sink_memory.sh.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "core/percent_encode.hpp"
#include "core/secrets.hpp"
#include "db_sink_rows.hpp"
#include "mysql_test_support.hpp"
#include "sink/mysql/my_dsn.hpp"
#include "sink/mysql/my_text.hpp"
#include "sink/registry.hpp"

namespace finsync::sink {
namespace {

using mysql::test::MyDatabase;

using test::all_types;
using test::cp;
using test::rows_of;
using test::table_of;

class MysqlSinkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(db_.set_up()); }
  void TearDown() override { db_.tear_down(); }

  // A sink with the test's load path (`load_`; empty: the default).
  std::unique_ptr<Sink> make(SinkSpec spec = {}) {
    SinkRegistry reg;
    register_builtin_sinks(reg);
    if (spec.kind.empty()) spec.kind = "mysql";
    if (spec.dsn.empty()) spec.dsn = db_.dsn();
    if (!load_.empty()) spec.options["load"] = load_;
    auto s = reg.create(spec, SinkContext{});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  MyDatabase db_;
  std::string load_;
};

// Each test once per load path: "infile" and "insert".
class SinkMysql : public MysqlSinkTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    load_ = GetParam();
    MysqlSinkTest::SetUp();
  }
};

INSTANTIATE_TEST_SUITE_P(Load, SinkMysql, ::testing::Values("infile", "insert"),
                         [](const auto& info) { return info.param; });

TEST_P(SinkMysql, StoresEachTypeAsDocumentedAndUpsertsOnTheKey) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of())) << "";
  EXPECT_EQ(
      db_.rows("SELECT concat_ws(' ', COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE) FROM "
               "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
               "= 'bars' ORDER BY ORDINAL_POSITION"),
      (std::vector<std::string>{"sym varchar(191) NO", "day date NO", "at datetime(6) YES",
                                "close double YES", "vol bigint(20) YES", "ok tinyint(1) YES"}));
  EXPECT_EQ(db_.one("SELECT group_concat(COLUMN_NAME ORDER BY SEQ_IN_INDEX) FROM "
                    "information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND "
                    "TABLE_NAME = 'bars' AND INDEX_NAME = 'PRIMARY'"),
            "sym,day");
  EXPECT_EQ(db_.one("SELECT concat_ws(' ', ENGINE, TABLE_COLLATION) FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('bars', "
                    "'_finsync_landed') GROUP BY 1"),
            "InnoDB utf8mb4_bin");
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 3)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/1", 3)));
  EXPECT_EQ(
      db_.rows("SELECT * FROM bars ORDER BY day"),
      (std::vector<std::string>{"000001.SZ|2024-02-28|2024-02-28 09:30:00.123456|1.25|0|0",
                                "000001.SZ|2024-02-29|2024-02-29 09:30:00.123456|2.25|NULL|1",
                                "000001.SZ|2024-03-01|2024-03-01 09:30:00.123456|3.25|2000|0"}));
  // A corrected bar replaces the old one; a key written twice in one landing keeps the last.
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 1, 9.5, 1)));
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 1, 7.5, 1)));
  ASSERT_TRUE(s->write(rows_of("000002.SZ", 1, 4)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/2", 3)));
  EXPECT_EQ(db_.rows("SELECT sym, day, close FROM bars ORDER BY sym, day"),
            (std::vector<std::string>{"000001.SZ|2024-02-28|1.25", "000001.SZ|2024-02-29|7.5",
                                      "000001.SZ|2024-03-01|3.25", "000002.SZ|2024-02-28|4"}));
  EXPECT_EQ(db_.rows("SELECT plan, task_id, `window`, page, `rows`, length(commit_id), "
                     "landed_at > utc_timestamp() - INTERVAL 1 HOUR FROM _finsync_landed ORDER "
                     "BY task_id"),
            (std::vector<std::string>{"p#1|p/000001.SZ/1|20240228-20240302|0|3|32|1",
                                      "p#1|p/000001.SZ/2|20240228-20240302|0|3|32|1"}));
  auto landed = s->landed_tasks("p#1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"p/000001.SZ/1", 3}, {"p/000001.SZ/2", 3}}));
  EXPECT_TRUE(s->multi_writer());
  auto stats = s->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->commits, 2);
  EXPECT_EQ(stats->reconnects, 0);
  // Reopened, the table it made matches what it expects (key columns varchar, bigint(20)).
  auto again = make();
  ASSERT_TRUE(again->open(table_of()));
  auto check = make()->check(table_of());
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_TRUE(check->differences.empty()) << check->differences.front();
}

TEST_P(SinkMysql, AKeyRepeatedAcrossPiecesOfOneNewLandingKeepsTheLastRow) {
  SinkSpec spec;
  spec.batch_size = 2;  // pieces of two rows: the repeat comes in a later piece
  auto s = make(spec);
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 3)));         // 02-28, 02-29, 03-01: pieces of 2 + 1
  ASSERT_TRUE(s->write(rows_of("A", 1, 8, 2)));   // 03-01 again
  ASSERT_TRUE(s->write(rows_of("A", 2, 20, 3)));  // 03-02, 03-03: after the switch to the stage
  ASSERT_TRUE(s->commit(cp("t0", 6)));
  EXPECT_EQ(db_.rows("SELECT concat(day, ' ', close) FROM bars ORDER BY day"),
            (std::vector<std::string>{"2024-02-28 1.25", "2024-02-29 2.25", "2024-03-01 8",
                                      "2024-03-02 20", "2024-03-03 21"}));
  ASSERT_TRUE(s->write(rows_of("A", 2, 30)));  // both keys exist
  ASSERT_TRUE(s->commit(cp("t1", 2)));
  EXPECT_EQ(db_.one("SELECT group_concat(close ORDER BY day SEPARATOR ' ') FROM bars"),
            "30 31 8 20 21");
  EXPECT_EQ(db_.one("SELECT count(*) FROM _finsync_landed"), "2");
}

TEST_P(SinkMysql, AColumnThePlanDoesNotWriteKeepsItsValueWhenItsRowIsUpserted) {
  // A column of the user's own: REPLACE would reset it, so such a table takes the stage table
  // and its merge (infile) or ON DUPLICATE KEY UPDATE of the plan's columns (insert).
  db_.exec(
      "CREATE TABLE bars(sym varchar(191) NOT NULL, day date NOT NULL, at datetime(6), close "
      "double, vol bigint, ok tinyint(1), note text, PRIMARY KEY (sym, day)) DEFAULT "
      "CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  SinkSpec spec;
  spec.schema_drift = SchemaDrift::evolve;
  spec.batch_size = 2;
  auto s = make(spec);
  ASSERT_TRUE(s->open(table_of())) << "";
  ASSERT_TRUE(s->write(rows_of("A", 3)));
  ASSERT_TRUE(s->write(rows_of("A", 1, 8, 2)));  // 03-01 again, in a later piece
  ASSERT_TRUE(s->commit(cp("t0", 4)));
  db_.exec("UPDATE bars SET note = 'mine' WHERE day = '2024-02-29'");
  ASSERT_TRUE(s->write(rows_of("A", 2, 30)));
  ASSERT_TRUE(s->commit(cp("t1", 2)));
  EXPECT_EQ(
      db_.rows("SELECT concat_ws(' ', day, close, vol, ok, note) FROM bars ORDER BY day"),
      (std::vector<std::string>{"2024-02-28 30 0 0", "2024-02-29 31 1 mine", "2024-03-01 8 0 0"}));
}

TEST_P(SinkMysql, AnUpsertDeletesNothingInATableWithTriggers) {
  // REPLACE would delete and re-insert under a trigger: such a table takes the stage path.
  db_.exec(
      "CREATE TABLE bars(sym varchar(191) NOT NULL, day date NOT NULL, at datetime(6), close "
      "double, vol bigint, ok tinyint(1), PRIMARY KEY (sym, day)) DEFAULT CHARSET=utf8mb4 "
      "COLLATE=utf8mb4_bin");
  db_.exec("CREATE TABLE gone(sym varchar(191), day date)");
  db_.exec(
      "CREATE TRIGGER bars_gone AFTER DELETE ON bars FOR EACH ROW INSERT INTO gone VALUES "
      "(OLD.sym, OLD.day)");
  auto s = make();
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 2)));
  ASSERT_TRUE(s->commit(cp("t0", 2)));
  ASSERT_TRUE(s->write(rows_of("A", 2, 40)));
  ASSERT_TRUE(s->commit(cp("t1", 2)));
  EXPECT_EQ(db_.one("SELECT group_concat(close ORDER BY day) FROM bars"), "40,41");
  EXPECT_EQ(db_.one("SELECT count(*) FROM gone"), "0");
}

TEST_P(SinkMysql, AppendInsertsEveryRowIntoATableWithoutKey) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of(WriteMode::append)));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s->write(rows_of("A", 2)));
    ASSERT_TRUE(s->commit(cp(fmt::format("t{}", i), 2)));
  }
  EXPECT_EQ(db_.one("SELECT concat(count(*), '|', count(DISTINCT day)) FROM bars"), "4|2");
  EXPECT_EQ(db_.one("SELECT count(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME = 'bars'"),
            "0");
  EXPECT_EQ(db_.one("SELECT group_concat(IS_NULLABLE ORDER BY ORDINAL_POSITION) FROM "
                    "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
                    "= 'bars'"),
            "NO,NO,YES,YES,YES,YES");
}

TEST_P(SinkMysql, ReplaceTableOnceAndReplacePartitionPerTask) {
  {
    SinkSpec spec;
    spec.mode = WriteMode::replace;
    auto s = make(spec);
    ASSERT_TRUE(s->open(table_of()));
    db_.exec("INSERT INTO bars(sym, day) VALUES ('OLD', '2000-01-03')");
    ASSERT_TRUE(s->write(rows_of("A", 4)));
    ASSERT_TRUE(s->commit(cp("t0", 4)));
    ASSERT_TRUE(s->write(rows_of("B", 4)));
    ASSERT_TRUE(s->commit(cp("t1", 4)));
    EXPECT_EQ(db_.one("SELECT concat(count(*), '|', sum(sym = 'OLD')) FROM bars"), "8|0");
  }
  SinkSpec spec;
  spec.mode = WriteMode::replace;
  spec.replace = ReplaceScope::partition;
  auto s = make(spec);
  ASSERT_TRUE(s->open(table_of()));
  Checkpoint c = cp("tA", 1);
  c.scope.equals = {{"sym", "A"}};
  c.scope.time_column = "day";
  c.scope.first_day = dates::days_from_civil(2024, 2, 28);
  c.scope.last_day = dates::days_from_civil(2024, 2, 29);
  ASSERT_TRUE(s->write(rows_of("A", 1, 50)));
  ASSERT_TRUE(s->commit(c));
  EXPECT_EQ(db_.rows("SELECT concat_ws(' ', sym, day, close) FROM bars ORDER BY sym, day"),
            (std::vector<std::string>{"A 2024-02-28 50", "A 2024-03-01 3.25", "A 2024-03-02 4.25",
                                      "B 2024-02-28 1.25", "B 2024-02-29 2.25", "B 2024-03-01 3.25",
                                      "B 2024-03-02 4.25"}));
  // By a timestamp time column: the rows of the task's days, UTC.
  Schema ts{{{"sym", DataType::string}, {"at", DataType::timestamp}, {"v", DataType::int64}}};
  SinkSpec tspec = spec;
  auto t = make(tspec);
  ASSERT_TRUE(t->open(TableSpec{"p#2", "ticks", ts, {"sym", "at"}, "at", WriteMode::replace}));
  const int64_t day = int64_t(dates::days_from_civil(2024, 3, 1)) * 86'400'000'000;
  db_.exec(
      "INSERT INTO ticks VALUES ('A', '2024-02-29 23:59:59.999999', 1), ('A', '2024-03-01 "
      "00:00:00', 2), ('A', '2024-03-01 23:59:59.999999', 3), ('A', '2024-03-02 00:00:00', 4), "
      "('B', '2024-03-01 12:00:00', 5)");
  RecordBatch nb(ts);
  nb.column(0).append_string("A");
  nb.column(1).append_int(day + 3'600'000'000);
  nb.column(2).append_int(9);
  ASSERT_TRUE(t->write(nb));
  Checkpoint tc = cp("tT", 1);
  tc.scope.equals = {{"sym", "A"}};
  tc.scope.time_column = "at";
  tc.scope.first_day = tc.scope.last_day = dates::days_from_civil(2024, 3, 1);
  ASSERT_TRUE(t->commit(tc));
  EXPECT_EQ(db_.one("SELECT group_concat(v ORDER BY sym, at) FROM ticks"), "1,9,4,5");
}

TEST_P(SinkMysql, StringsRoundTripByteForByte) {
  const std::vector<std::string> texts = {"tab\there",      "new\nline\r\n",
                                          "back\\slash\\N", "\\N",
                                          "quote's \"x\"",  std::string("nul\0z", 5),
                                          "价格 📈 ü",       "",
                                          "  trailing  ",   "\x1a control"};
  Schema sc{{{"k", DataType::string}, {"v", DataType::string}, {"n", DataType::int64}}};
  auto s = make();
  ASSERT_TRUE(s->open(TableSpec{"p#1", "texts", sc, {"k"}, "", WriteMode::upsert}));
  RecordBatch b(sc);
  for (size_t i = 0; i < texts.size(); ++i) {
    b.column(0).append_string(texts[i]);
    b.column(1).append_string(texts[i]);
    b.column(2).append_int(int64_t(i));
  }
  b.column(0).append_string("null");
  b.column(1).append_null();
  b.column(2).append_int(99);
  ASSERT_TRUE(s->write(b));
  ASSERT_TRUE(s->commit(cp("t", int64_t(b.num_rows()))));
  std::vector<std::string> want;
  for (size_t i = 0; i < texts.size(); ++i)
    want.push_back(fmt::format("{}|{}|{}", i, texts[i], texts[i]));
  want.push_back("99|null|NULL");
  EXPECT_EQ(db_.rows("SELECT n, k, v FROM texts ORDER BY n"), want);
  // 'abc' and 'ABC' are two keys (utf8mb4_bin).
  RecordBatch c(sc);
  for (const char* k : {"abc", "ABC"}) {
    c.column(0).append_string(k);
    c.column(1).append_string(k);
    c.column(2).append_int(1);
  }
  ASSERT_TRUE(s->write(c));
  ASSERT_TRUE(s->commit(cp("t2", 2)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM texts WHERE n = 1 AND k IN ('abc', 'ABC')"), "2");
}

TEST_P(SinkMysql, ValuesTheColumnsCannotHoldAreRejectedAndNothingIsLanded) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of()));
  struct Case {
    std::function<void(RecordBatch&)> spoil;
    std::string says;
  };
  const std::vector<Case> cases = {
      {[](RecordBatch& b) {
         b.column(1) = Column(DataType::date);
         b.column(1).append_int(dates::days_from_civil(999, 12, 31));
       },
       "row 1, column day: date 0999-12-31 is outside what a mysql date holds "
       "(1000-01-01..9999-12-31)"},
      {[](RecordBatch& b) {
         b.column(1) = Column(DataType::date);
         b.column(1).append_int(dates::days_from_civil(10000, 1, 1));
       },
       "is outside what a mysql date holds (1000-01-01..9999-12-31)"},
      {[](RecordBatch& b) {
         b.column(2) = Column(DataType::timestamp);
         b.column(2).append_int(int64_t(dates::days_from_civil(999, 12, 31)) * 86'400'000'000);
       },
       "row 1, column at: timestamp 0999-12-31T00:00:00.000000Z is outside what a mysql "
       "timestamp holds (1000-01-01 00:00:00..9999-12-31 23:59:59.999999 UTC)"},
      {[](RecordBatch& b) {
         b.column(3) = Column(DataType::float64);
         b.column(3).append_double(std::nan(""));
       },
       "row 1, column close: nan cannot be stored in a mysql float column"},
  };
  for (const auto& c : cases) {
    RecordBatch b = rows_of("A", 1);
    c.spoil(b);
    auto w = s->write(b);
    ASSERT_FALSE(w) << c.says;
    EXPECT_EQ(w.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(w.error().message.find(c.says), std::string::npos) << w.error().message;
    ASSERT_TRUE(s->rollback());
  }
  // The server's own limit: a key longer than varchar(191), in a landing with a valid row.
  RecordBatch b = rows_of("B", 1);
  RecordBatch long_key = rows_of(std::string(192, 'k'), 1);
  ASSERT_TRUE(s->write(b));
  ASSERT_TRUE(s->write(long_key));
  auto r = s->commit(cp("t", 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input) << r.error().message;
  EXPECT_NE(r.error().message.find("'sym'"), std::string::npos) << r.error().message;
  EXPECT_EQ(
      r.error().message.rfind(fmt::format("mysql sink {} table bars: landing: ", db_.where()), 0),
      0u)
      << r.error().message;
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "0");
  EXPECT_EQ(db_.one("SELECT count(*) FROM _finsync_landed"), "0");
  // The session is still good for the next landing.
  ASSERT_TRUE(s->write(rows_of("C", 2)));
  ASSERT_TRUE(s->commit(cp("t2", 2)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "2");
  EXPECT_EQ(s->close()->reconnects, 0);
}

TEST_P(SinkMysql, AConnectionKilledBeforeTheCommitIsReconnectedAndTheLandingRunAgain) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 3)));
  const std::string id = db_.one(
      "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> "
      "CONNECTION_ID()");
  ASSERT_TRUE(db_.exec("KILL CONNECTION " + id)) << id;
  ASSERT_TRUE(s->commit(cp("t0", 3)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "3");
  EXPECT_EQ(db_.one("SELECT count(*) FROM _finsync_landed"), "1");
  auto stats = s->close();
  EXPECT_EQ(stats->reconnects, 1);
  EXPECT_EQ(stats->retries, 1);
}

TEST_P(SinkMysql, AWrongPasswordNamesTheSinkAndHostButNotThePassword) {
  const std::string user = "fs_" + db_.db().substr(db_.db().size() - 9);
  const std::string good = "g00d:p@ss-" + user;
  ASSERT_TRUE(db_.exec(fmt::format("CREATE USER '{}'@'%' IDENTIFIED BY '{}'", user, good)));
  ASSERT_TRUE(db_.exec(fmt::format("GRANT ALL ON {}.* TO '{}'@'%'", db_.db(), user)));
  const std::string wrong = "Wr0ng-S3cret-" + user;
  for (const auto& [dsn, password] : std::vector<std::pair<std::string, std::string>>{
           {db_.dsn(user), wrong}, {db_.dsn(user, percent_encode(wrong)), ""}}) {
    SinkSpec spec;
    spec.dsn = dsn;
    spec.password = password;
    auto s = make(spec);
    auto r = s->open(table_of());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::auth);
    const std::string& msg = r.error().message;
    EXPECT_EQ(msg.rfind(fmt::format("mysql sink {} table bars: open: connect: Access denied for "
                                    "user '{}'@",
                                    db_.where(user), user),
                        0),
              0u)
        << msg;
    EXPECT_NE(msg.find("(error 1045)"), std::string::npos) << msg;
    for (const std::string& secret : {wrong, percent_encode(wrong), good})
      EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    auto check = s->check(table_of());
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().kind, ErrorKind::auth);
  }
  // The right password, percent-encoded in the DSN, lands.
  SinkSpec spec;
  spec.dsn = db_.dsn(user, percent_encode(good));
  auto s = make(spec);
  ASSERT_TRUE(s->open(table_of())) << "";
  ASSERT_TRUE(s->write(rows_of("A", 2)));
  ASSERT_TRUE(s->commit(cp("t", 2)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "2");
  s->close();
  db_.exec(fmt::format("DROP USER '{}'@'%'", user));
}

TEST_P(SinkMysql, SchemaDriftAndCheckReportTheExactDifference) {
  db_.exec(
      "CREATE TABLE bars(sym varchar(191) NOT NULL, day date NOT NULL, close text, PRIMARY KEY "
      "(sym, day))");
  auto s = make();
  auto check = s->check(table_of());
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(check->store, "mysql " + db_.where());
  EXPECT_EQ(check->server.rfind("MariaDB 10.11.", 0), 0u) << check->server;
  EXPECT_EQ(check->server.find("-MariaDB"), std::string::npos) << check->server;
  EXPECT_TRUE(check->table_exists);
  EXPECT_EQ(check->differences,
            (std::vector<std::string>{"missing column at datetime(6)", "missing column vol bigint",
                                      "missing column ok tinyint(1)",
                                      "column close: expected double, found text"}));
  auto r = s->open(table_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);

  db_.exec("ALTER TABLE bars MODIFY close double");
  SinkSpec evolve;
  evolve.schema_drift = SchemaDrift::evolve;
  auto e = make(evolve);
  ASSERT_TRUE(e->open(table_of())) << "";
  ASSERT_TRUE(e->write(rows_of("A", 1)));
  ASSERT_TRUE(e->commit(cp("t", 1)));
  EXPECT_EQ(
      db_.rows("SELECT concat_ws(' ', COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE) FROM "
               "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
               "= 'bars' ORDER BY ORDINAL_POSITION"),
      (std::vector<std::string>{"sym varchar(191) NO", "day date NO", "close double YES",
                                "at datetime(6) YES", "vol bigint(20) YES", "ok tinyint(1) YES"}));
  EXPECT_EQ(db_.one("SELECT concat_ws('|', sym, day, at, close, vol, ok) FROM bars"),
            "A|2024-02-28|2024-02-28 09:30:00.123456|1.25|0|0");
  EXPECT_EQ(e->close()->columns_added, 3);
  auto again = make()->check(table_of());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->differences.empty());
  // The same sink under its other name, which its messages then use.
  SinkSpec alias;
  alias.kind = "mariadb";
  auto m = make(alias)->check(table_of());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->store, "mariadb " + db_.where());
  EXPECT_TRUE(m->differences.empty());
}

TEST_P(SinkMysql, ConnectErrorsSayWhatIsWrong) {
  // No server on a closed port: unreachable at the first connect, not retried.
  SinkSpec closed;
  closed.dsn = fmt::format("mysql://root@127.0.0.1:1/{}", db_.db());
  auto r = make(closed)->open(table_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unreachable) << r.error().message;
  EXPECT_NE(r.error().message.find("mysql sink root@127.0.0.1:1/"), std::string::npos);
  // A database that does not exist.
  SinkSpec nodb;
  nodb.dsn = fmt::format("mysql://root@{}:{}/{}_missing", db_.host(), db_.port(), db_.db());
  r = make(nodb)->open(table_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("Unknown database"), std::string::npos) << r.error().message;
  // A DSN that is not one: the factory accepts it (validation sees unexpanded ${VAR}s), open says.
  SinkSpec bad;
  bad.dsn = "postgresql://u:Pw-Secret-123@h/db";
  auto s = make(bad);
  ASSERT_TRUE(s);
  r = s->open(table_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("mysql sink (invalid dsn) table bars: open: invalid dsn: the "
                                   "scheme 'postgresql' is not mysql or mariadb"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("Pw-Secret-123"), std::string::npos);
}

// Turns the shared server's local_infile off for a moment, so ctest runs it alone
// (tests/CMakeLists.txt).
class SinkMysqlLocalInfileOff : public MysqlSinkTest {
 protected:
  void TearDown() override {
    db_.exec("SET GLOBAL local_infile = 1");
    MysqlSinkTest::TearDown();
  }
};

TEST_F(SinkMysqlLocalInfileOff, ARefusedLoadDataSaysWhatToDoAndInsertStillLands) {
  ASSERT_TRUE(db_.exec("SET GLOBAL local_infile = 0"));
  auto s = make();
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 3)));
  auto r = s->commit(cp("t", 3));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::permanent);
  EXPECT_NE(r.error().message.find(
                "the server refuses LOAD DATA LOCAL INFILE: turn local_infile on there (SET "
                "GLOBAL local_infile = 1) or set `load: insert` in the sink block"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "0");
  load_ = "insert";
  auto t = make();
  ASSERT_TRUE(t->open(table_of()));
  ASSERT_TRUE(t->write(rows_of("A", 3)));
  ASSERT_TRUE(t->commit(cp("t", 3)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "3");
}

// Without a server: the DSN and the text forms.

TEST(SinkMysqlDsn, ParsesEveryPartAndDecodesWhatIsEncoded) {
  auto d = mysql::parse_dsn("mysql://fin%40sync:p%3Aw%2Fd-Secret-42@db.example:3307/mark%2Det");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->user, "fin@sync");
  EXPECT_EQ(d->password, "p:w/d-Secret-42");
  EXPECT_EQ(d->host, "db.example");
  EXPECT_EQ(d->port, 3307u);
  EXPECT_EQ(d->database, "mark-et");
  EXPECT_EQ(d->connect_timeout, 10u);
  EXPECT_EQ(d->where(), "fin@sync@db.example:3307/mark-et");
  EXPECT_EQ(secrets::mask("x p:w/d-Secret-42 y").find("p:w/d-Secret-42"), std::string::npos);

  d = mysql::parse_dsn("mariadb://u@[::1]/db?connect_timeout=3");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 3306u);
  EXPECT_EQ(d->connect_timeout, 3u);
  EXPECT_EQ(d->where(), "u@[::1]:3306/db");

  d = mysql::parse_dsn("mysql://u@localhost/db?socket=%2Frun%2Fmysqld%2Fmysqld.sock");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(d->where(), "u@localhost/db (socket /run/mysqld/mysqld.sock)");

  // No user: the login name, as the mariadb client does.
  d = mysql::parse_dsn("mysql://h/db");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->user, getpwuid(geteuid())->pw_name);
}

TEST(SinkMysqlDsn, RejectsWhatIsNotAMysqlUrlWithADatabase) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"postgresql://u@h/db",
       "the scheme 'postgresql' is not mysql or mariadb; expected "
       "mysql://user@host:3306/database"},
      {"mysql://u@h", "the path '/' does not name one database"},
      {"mysql://u@h/a/b", "the path '/a/b' does not name one database"},
      {"mysql://u@h/db?sslmode=on",
       "'sslmode' is not a query key of mysql dsns; expected socket or connect_timeout"},
      {"mysql://u@h/db?connect_timeout=0", "connect_timeout '0' is not a number from 1 to 3600"},
      {"mysql://u@h:0/db", "the port '0' is not a number from 1 to 65535"},
  };
  for (const auto& [dsn, says] : cases) {
    auto d = mysql::parse_dsn(dsn);
    ASSERT_FALSE(d) << dsn;
    EXPECT_EQ(d.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(d.error().message.find(says), std::string::npos) << dsn << ": " << d.error().message;
  }
}

TEST(SinkMysqlText, LoadLinesEscapeWhatLoadDataReadsSpecially) {
  Schema s{{{"s", DataType::string},
            {"d", DataType::date},
            {"t", DataType::timestamp},
            {"f", DataType::float64},
            {"i", DataType::int64},
            {"b", DataType::boolean}}};
  RecordBatch b(s);
  b.column(0).append_string(std::string("a\tb\nc\\d\re\0f", 11));
  b.column(1).append_int(dates::days_from_civil(1000, 1, 1));
  b.column(2).append_int(int64_t(dates::days_from_civil(9999, 12, 31)) * 86'400'000'000 +
                         86'399'999'999);
  b.column(3).append_double(0.1);
  b.column(4).append_int(-9223372036854775807 - 1);
  b.column(5).append_int(1);
  b.column(0).append_string("\\N");
  for (size_t c = 1; c < 6; ++c) b.column(c).append_null();
  b.column(0).append_string("");
  b.column(1).append_int(0);
  b.column(2).append_int(-1);
  b.column(3).append_double(1e20);
  b.column(4).append_int(0);
  b.column(5).append_int(0);
  std::string out;
  for (size_t r = 0; r < 3; ++r) mysql::append_load_line(b, r, out);
  EXPECT_EQ(out,
            "a\\tb\\nc\\\\d\\re\\0f\t1000-01-01\t9999-12-31 23:59:59.999999\t0.1\t"
            "-9223372036854775808\t1\n"
            "\\\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
            "\t1970-01-01\t1969-12-31 23:59:59.999999\t1e+20\t0\t0\n");
  std::string lit;
  for (size_t c = 1; c < 6; ++c) {
    EXPECT_TRUE(mysql::append_literal(b.column(c), 0, lit));
    lit += ',';
  }
  EXPECT_FALSE(mysql::append_literal(b.column(0), 0, lit));
  EXPECT_TRUE(mysql::append_literal(b.column(3), 1, lit));
  EXPECT_EQ(lit, "'1000-01-01','9999-12-31 23:59:59.999999',0.1,-9223372036854775808,1,NULL");
  EXPECT_EQ(mysql::quote_name("a`b"), "`a``b`");
}

}  // namespace
}  // namespace finsync::sink
