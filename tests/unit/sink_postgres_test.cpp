// The postgres sink against the test server (FINSYNC_TEST_PG_DSN), read back through a separate
// connection: types, upsert through the COPY'd stage (and a key repeated inside one landing),
// append, replace, markers, a backend killed mid-landing, passwords, drift, `sinks check`, the
// checkpoint committed in the landing's transaction. Flat memory over 1,000,000 rows:
// tests/integration/sink_memory.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "core/percent_encode.hpp"
#include "db_sink_rows.hpp"
#include "pg_test_support.hpp"
#include "sink/postgres/pg_sink.hpp"
#include "sink/registry.hpp"
#include "state/pg_task_writer.hpp"
#include "state/state_store.hpp"

namespace finsync::sink {
namespace {

using test::all_types;
using test::cp;
using test::rows_of;
using test::table_of;

class SinkPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(db_.set_up());
    app_ = state::test::fresh_name("finsync_sink");
  }
  void TearDown() override { db_.tear_down(); }

  // The test's DSN with an application_name of its own, so the test can find its backend.
  std::string dsn() const {
    return db_.dsn() + (db_.dsn().find('?') == std::string::npos ? "?" : "&") +
           "application_name=" + app_;
  }
  std::string where() const {
    return fmt::format("postgres@{}:{}/{} (schema {})", db_.host(), db_.port(), db_.db(),
                       db_.schema());
  }
  std::unique_ptr<Sink> make(SinkSpec spec = {}) {
    SinkRegistry reg;
    register_builtin_sinks(reg);
    spec.kind = "postgres";
    if (spec.dsn.empty()) spec.dsn = dsn();
    spec.options["schema"] = db_.schema();
    auto s = reg.create(spec, SinkContext{});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  state::test::PgSchema db_;
  std::string app_;
};

TEST_F(SinkPostgres, StoresEachTypeAsDocumentedAndUpsertsOnTheKey) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of())) << "";
  EXPECT_EQ(
      db_.rows("SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM "
               "information_schema.columns WHERE table_schema = '" +
               db_.schema() + "' AND table_name = 'bars' ORDER BY ordinal_position"),
      (std::vector<std::string>{"sym text NO", "day date NO", "at timestamp with time zone YES",
                                "close double precision YES", "vol bigint YES", "ok boolean YES"}));
  EXPECT_EQ(db_.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                    "'bars'::regclass AND contype = 'p'"),
            "PRIMARY KEY (sym, day)");
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 3)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/1", 3)));
  db_.exec("SET TimeZone = 'UTC'");
  EXPECT_EQ(
      db_.rows("SELECT * FROM bars ORDER BY day"),
      (std::vector<std::string>{"000001.SZ|2024-02-28|2024-02-28 09:30:00.123456+00|1.25|0|f",
                                "000001.SZ|2024-02-29|2024-02-29 09:30:00.123456+00|2.25|NULL|t",
                                "000001.SZ|2024-03-01|2024-03-01 09:30:00.123456+00|3.25|2000|f"}));
  // A corrected bar replaces the old one; a key written twice in one landing keeps the last.
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 1, 9.5, 1)));
  ASSERT_TRUE(s->write(rows_of("000001.SZ", 1, 7.5, 1)));
  ASSERT_TRUE(s->write(rows_of("000002.SZ", 1, 4)));
  ASSERT_TRUE(s->commit(cp("p/000001.SZ/2", 3)));
  EXPECT_EQ(db_.rows("SELECT sym, day, close FROM bars ORDER BY sym, day"),
            (std::vector<std::string>{"000001.SZ|2024-02-28|1.25", "000001.SZ|2024-02-29|7.5",
                                      "000001.SZ|2024-03-01|3.25", "000002.SZ|2024-02-28|4"}));
  EXPECT_EQ(db_.rows("SELECT plan, task_id, \"window\", page, \"rows\", length(commit_id) FROM "
                     "_finsync_landed ORDER BY task_id"),
            (std::vector<std::string>{"p#1|p/000001.SZ/1|20240228-20240302|0|3|32",
                                      "p#1|p/000001.SZ/2|20240228-20240302|0|3|32"}));
  auto landed = s->landed_tasks("p#1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"p/000001.SZ/1", 3}, {"p/000001.SZ/2", 3}}));
  EXPECT_TRUE(s->multi_writer());
  auto stats = s->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->commits, 2);
  EXPECT_EQ(stats->reconnects, 0);
}

TEST_F(SinkPostgres, AKeyRepeatedAcrossPiecesOfOneNewLandingKeepsTheLastRow) {
  SinkSpec spec;
  spec.batch_size = 2;  // pieces of two rows: the repeat comes in a later piece
  auto s = make(spec);
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 3)));         // 02-28, 02-29, 03-01: pieces of 2 + 1
  ASSERT_TRUE(s->write(rows_of("A", 1, 8, 2)));   // 03-01 again
  ASSERT_TRUE(s->write(rows_of("A", 2, 20, 3)));  // 03-02, 03-03: after the switch to the stage
  ASSERT_TRUE(s->commit(cp("t0", 6)));
  EXPECT_EQ(db_.rows("SELECT day || ' ' || close FROM bars ORDER BY day"),
            (std::vector<std::string>{"2024-02-28 1.25", "2024-02-29 2.25", "2024-03-01 8",
                                      "2024-03-02 20", "2024-03-03 21"}));
  ASSERT_TRUE(s->write(rows_of("A", 2, 30)));  // both keys exist
  ASSERT_TRUE(s->commit(cp("t1", 2)));
  EXPECT_EQ(db_.one("SELECT string_agg(close::text, ' ' ORDER BY day) FROM bars"), "30 31 8 20 21");
}

TEST_F(SinkPostgres, AppendCopiesStraightIntoTheTable) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of(WriteMode::append)));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s->write(rows_of("A", 2)));
    ASSERT_TRUE(s->commit(cp(fmt::format("t{}", i), 2)));
  }
  EXPECT_EQ(db_.one("SELECT count(*) || '|' || count(DISTINCT day) FROM bars"), "4|2");
  EXPECT_EQ(db_.one("SELECT count(*) FROM pg_constraint WHERE conrelid = 'bars'::regclass AND "
                    "contype = 'p'"),
            "0");
}

TEST_F(SinkPostgres, ReplaceTableOnceAndReplacePartitionPerTask) {
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
    EXPECT_EQ(db_.one("SELECT count(*) || '|' || count(*) FILTER (WHERE sym = 'OLD') FROM bars"),
              "8|0");
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
  EXPECT_EQ(db_.rows("SELECT sym || ' ' || day || ' ' || close FROM bars ORDER BY sym, day"),
            (std::vector<std::string>{"A 2024-02-28 50", "A 2024-03-01 3.25", "A 2024-03-02 4.25",
                                      "B 2024-02-28 1.25", "B 2024-02-29 2.25", "B 2024-03-01 3.25",
                                      "B 2024-03-02 4.25"}));
}

TEST_F(SinkPostgres, ABackendKilledBeforeTheCommitIsReconnectedAndTheLandingRunAgain) {
  auto s = make();
  ASSERT_TRUE(s->open(table_of()));
  ASSERT_TRUE(s->write(rows_of("A", 3)));
  ASSERT_EQ(db_.one("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                    "application_name = '" +
                    app_ + "'"),
            "1");
  ASSERT_TRUE(s->commit(cp("t0", 3)));
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars"), "3");
  EXPECT_EQ(db_.one("SELECT count(*) FROM _finsync_landed"), "1");
  auto stats = s->close();
  EXPECT_EQ(stats->reconnects, 1);
  EXPECT_EQ(stats->retries, 1);
}

TEST_F(SinkPostgres, AWrongPasswordNamesTheSinkAndHostButNotThePassword) {
  const std::string role = state::test::fresh_name("finsync_sinkauth");
  const std::string good = "g00d:p@ss-" + role;
  ASSERT_TRUE(db_.exec("CREATE ROLE " + role + " LOGIN PASSWORD '" + good +
                       "' IN ROLE finsync_password_required"));
  const std::string wrong = "Wr0ng-S3cret-" + role;
  const std::string host = db_.host() + ":" + db_.port();
  for (const auto& [dsn, password] : std::vector<std::pair<std::string, std::string>>{
           {"postgresql://" + role + "@" + host + "/" + db_.db(), wrong},
           {"postgresql://" + role + ":" + percent_encode(wrong) + "@" + host + "/" + db_.db(),
            ""}}) {
    SinkSpec spec;
    spec.dsn = dsn;
    spec.password = password;
    auto s = make(spec);
    auto r = s->open(table_of());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::auth);
    const std::string& msg = r.error().message;
    EXPECT_EQ(msg.rfind(fmt::format("postgres sink {}@{}/{} (schema {}) table bars: open: "
                                    "connect: ",
                                    role, host, db_.db(), db_.schema()),
                        0),
              0u)
        << msg;
    EXPECT_NE(msg.find("password authentication failed"), std::string::npos) << msg;
    for (const std::string& secret : {wrong, percent_encode(wrong), good})
      EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    auto check = s->check(table_of());
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().kind, ErrorKind::auth);
  }
  db_.exec("DROP ROLE " + role);
}

TEST_F(SinkPostgres, SchemaDriftAndCheckReportTheExactDifference) {
  db_.exec("CREATE SCHEMA " + db_.schema());
  db_.exec(
      "CREATE TABLE bars(sym text NOT NULL, day date NOT NULL, close text, PRIMARY KEY (sym, "
      "day))");
  auto s = make();
  auto check = s->check(table_of());
  ASSERT_TRUE(check) << check.error().message;
  EXPECT_EQ(check->store, "postgres " + where());
  EXPECT_EQ(check->server.rfind("PostgreSQL 15.", 0), 0u) << check->server;
  EXPECT_TRUE(check->table_exists);
  EXPECT_EQ(check->differences,
            (std::vector<std::string>{"missing column at timestamp with time zone",
                                      "missing column vol bigint", "missing column ok boolean",
                                      "column close: expected double precision, found text"}));
  auto r = s->open(table_of());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);

  db_.exec(
      "ALTER TABLE bars ALTER COLUMN close TYPE double precision USING close::double precision");
  SinkSpec evolve;
  evolve.schema_drift = SchemaDrift::evolve;
  auto e = make(evolve);
  ASSERT_TRUE(e->open(table_of())) << "";
  ASSERT_TRUE(e->write(rows_of("A", 1)));
  ASSERT_TRUE(e->commit(cp("t", 1)));
  EXPECT_EQ(db_.rows("SELECT column_name FROM information_schema.columns WHERE table_schema = '" +
                     db_.schema() + "' AND table_name = 'bars' ORDER BY ordinal_position"),
            (std::vector<std::string>{"sym", "day", "close", "at", "vol", "ok"}));
  EXPECT_EQ(e->close()->columns_added, 3);
  auto again = make()->check(table_of());
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->differences.empty());
}

TEST_F(SinkPostgres, TheCheckpointCommitsInTheLandingTransaction) {
  auto store = state::open_postgres_state(db_.options());
  ASSERT_TRUE(store) << store.error().message;
  state::Task task;
  task.id = "p/A/20240228-20240302";
  task.plan = "p";
  task.start_day = dates::days_from_civil(2024, 2, 28);
  task.end_day = task.start_day + 3;
  state::PlanRecord plan;
  plan.name = "p";
  ASSERT_TRUE((*store)->put_plan(plan));
  ASSERT_TRUE((*store)->add_tasks({task}));
  auto s = make();
  const std::string schema = db_.schema();
  ASSERT_TRUE(postgres::set_task_writer(
      *s, [schema](PGconn* conn, std::span<const Checkpoint> cps) -> Result<void> {
        for (const auto& c : cps)
          if (auto r = state::update_task_on(conn, schema, *c.task); !r) return r;
        return {};
      }));
  ASSERT_TRUE(s->open(table_of()));
  task.state = state::TaskState::succeeded;
  task.rows = 3;
  int persisted = 0;
  Checkpoint c = cp(task.id, 3);
  c.task = &task;
  c.persist = [&persisted]() -> Result<void> {
    ++persisted;
    return {};
  };
  ASSERT_TRUE(s->write(rows_of("A", 3)));
  ASSERT_TRUE(s->commit(c));
  EXPECT_EQ(persisted, 0);
  EXPECT_EQ(db_.one("SELECT state || '|' || rows FROM tasks WHERE id = '" + task.id + "'"),
            "succeeded|3");
  // A checkpoint that cannot be written takes the rows and the markers with it.
  state::Task ghost = task;
  ghost.id = "p/NOT-PLANNED";
  Checkpoint g = cp(ghost.id, 2);
  g.task = &ghost;
  ASSERT_TRUE(s->write(rows_of("B", 2)));
  auto r = s->commit(g);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(db_.one("SELECT count(*) FROM bars WHERE sym = 'B'"), "0");
  EXPECT_EQ(db_.one("SELECT count(*) FROM _finsync_landed"), "1");
  // Two DSNs naming the same database, however written.
  EXPECT_TRUE(postgres::same_database(db_.dsn(), dsn()));
  EXPECT_TRUE(postgres::same_database(
      fmt::format("postgresql://u@localhost:{}/{}", db_.port(), db_.db()),
      fmt::format("host=127.0.0.1 port={} dbname={} user=other", db_.port(), db_.db())));
  EXPECT_FALSE(postgres::same_database(
      db_.dsn(), fmt::format("postgresql://postgres@{}:{}/other", db_.host(), db_.port())));
}

}  // namespace
}  // namespace finsync::sink
