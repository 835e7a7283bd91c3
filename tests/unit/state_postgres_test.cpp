// What only the PostgreSQL state store has: schemas, migrations run by several processes against
// one server, authentication, a server that goes away. The behaviour shared with SQLite is
// tested by the typed suite in state_store_test.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/percent_encode.hpp"
#include "pg_test_support.hpp"
#include "ratelimit/limiter.hpp"
#include "state/pg_store_internal.hpp"
#include "state/sqlite_store_internal.hpp"
#include "state/state_store.hpp"

namespace finsync::state {
namespace {

using namespace std::chrono_literals;

class PostgresStateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(db_.set_up()); }
  void TearDown() override { db_.tear_down(); }

  test::PgSchema db_;
};

TEST_F(PostgresStateTest, MigrationStepsAreNumberedLikeSqlite) {
  const auto pg = detail::postgres_migrations();
  const auto lite = detail::sqlite_migrations();
  ASSERT_EQ(pg.size(), lite.size());
  for (size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].version, static_cast<int>(i) + 1);
    EXPECT_STREQ(pg[i].summary, lite[i].summary);
  }
}

TEST_F(PostgresStateTest, OpenCreatesTheSchemaWithTheLatestVersion) {
  EXPECT_EQ(db_.one("SELECT count(*) FROM pg_namespace WHERE nspname = '" + db_.schema() + "'"),
            "0");
  auto s = open_postgres_state(db_.options());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 5);
  EXPECT_EQ(db_.one("SELECT count(*) || '|' || max(version) FROM schema_version"), "1|5");
  EXPECT_EQ(db_.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = '" +
                     db_.schema() + "' ORDER BY 1"),
            (std::vector<std::string>{"marks", "plans", "quota_blocks", "quota_counters",
                                      "quota_slots", "runs", "schema_version", "tasks"}));
  // Same columns, in the same order, as the SQLite store.
  EXPECT_EQ(
      db_.rows("SELECT column_name || ':' || data_type FROM information_schema.columns "
               "WHERE table_schema = '" +
               db_.schema() + "' AND table_name = 'tasks' ORDER BY ordinal_position"),
      (std::vector<std::string>{
          "id:text", "plan:text", "params_json:text", "start_day:integer", "end_day:integer",
          "state:text", "attempts:integer", "rows:bigint", "bytes:bigint", "duration_ms:bigint",
          "last_error:text", "resume_at:bigint", "parent:text", "run_id:text", "updated_at:bigint",
          "requests:bigint", "lease_holder:text", "lease_until:bigint", "page_cursor:text"}));
  EXPECT_EQ(db_.rows("SELECT indexname FROM pg_indexes WHERE schemaname = '" + db_.schema() +
                     "' AND indexname NOT LIKE '%pkey' ORDER BY 1"),
            (std::vector<std::string>{"quota_slots_provider", "runs_plan_started",
                                      "tasks_lease_holder", "tasks_plan_state"}));
}

TEST_F(PostgresStateTest, WithoutCreateAMissingStoreIsNotFoundAndNothingIsCreated) {
  auto o = db_.options();
  o.create = false;
  auto s = open_postgres_state(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::not_found);
  EXPECT_EQ(s.error().message, db_.label() + " holds no state store yet");
  EXPECT_EQ(db_.one("SELECT count(*) FROM pg_namespace WHERE nspname = '" + db_.schema() + "'"),
            "0");
  ASSERT_TRUE(open_postgres_state(db_.options()));
  EXPECT_TRUE(open_postgres_state(o));
}

TEST_F(PostgresStateTest, VersionOneSchemaMigratesAndKeepsItsData) {
  auto v1 = detail::migrate_postgres_state(db_.options(), 1);
  ASSERT_TRUE(v1) << v1.error().message;
  ASSERT_EQ(*v1, 1);
  EXPECT_EQ(db_.one("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" +
                    db_.schema() + "' AND column_name IN ('requests', 'rate_limited')"),
            "1");  // runs.requests only
  // Data as finsync 1 wrote it, with version-1 columns only.
  ASSERT_TRUE(db_.exec(R"sql(
INSERT INTO plans VALUES ('daily', 'name: daily', 'fp1', '[{"ts_code":"000001.SZ"}]',
                          1709285400000000, 1709285400000001);
INSERT INTO tasks(id, plan, params_json, start_day, end_day, state, attempts, rows, bytes,
                  duration_ms, last_error, resume_at, parent, run_id, updated_at)
VALUES ('t1', 'daily', '{"ts_code":"000001.SZ"}', 19723, 19753, 'parked', 2, 4000, 96000, 812,
        'quota_exhausted', 1709300000000000, '', 'r1', 1709285400000000),
       ('t2', 'daily', '{"ts_code":"000002.SZ"}', 19723, 19753, 'running', 1, 0, 0, 0, '', NULL,
        '', 'r1', 1709285400000000);
INSERT INTO runs(id, plan, kind, status, started_at, finished_at, tasks_total, tasks_succeeded,
                 tasks_failed, tasks_dead, tasks_skipped, tasks_split, rows, bytes, requests,
                 retries, error)
VALUES ('r1', 'daily', 'backfill', 'interrupted', 1709285400000000, NULL, 2, 0, 0, 0, 0, 0, 4000,
        96000, 3, 1, '');
)sql"));

  auto s = open_postgres_state(db_.options());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 5);
  auto t1 = (*s)->get_task("t1");
  ASSERT_TRUE(t1 && t1->has_value()) << (t1 ? "missing" : t1.error().message);
  EXPECT_EQ((*t1)->state, TaskState::parked);
  EXPECT_EQ((*t1)->rows, 4000);
  EXPECT_EQ((*t1)->last_error, "quota_exhausted");
  EXPECT_EQ((*t1)->resume_at, TimePoint(1709300000000000us));
  EXPECT_EQ((*t1)->requests, 0);  // new column, default
  EXPECT_EQ((*s)->get_plan("daily").value()->updated_at, TimePoint(1709285400000001us));
  auto r1 = (*s)->get_run("r1");
  ASSERT_TRUE(r1 && r1->has_value());
  EXPECT_EQ((*r1)->requests, 3);
  EXPECT_EQ((*r1)->rate_limited, 0);  // new column, default
  EXPECT_EQ((*r1)->finished_at, std::nullopt);

  EXPECT_EQ((*s)->expire_leases("daily", Clock_t::now()).value(),
            1);  // no lease: its holder is gone
  Task t = **t1;
  t.requests = 5;
  ASSERT_TRUE((*s)->update_task(t));
  EXPECT_EQ((*s)->get_task("t1").value()->requests, 5);
  s->reset();

  EXPECT_EQ(db_.one("SELECT count(*) || '|' || max(version) FROM schema_version"), "1|5");
  EXPECT_EQ(db_.one("SELECT column_default || '|' || is_nullable FROM information_schema.columns "
                    "WHERE table_schema = '" +
                    db_.schema() + "' AND table_name = 'runs' AND column_name = 'rate_limited'"),
            "0|NO");
  EXPECT_EQ(db_.one("SELECT state FROM tasks WHERE id = 't2'"), "pending");
}

TEST_F(PostgresStateTest, FailedMigrationRollsBackWithItsVersionBump) {
  ASSERT_EQ(detail::migrate_postgres_state(db_.options(), 1).value(), 1);
  // In the way of migration 2's CREATE INDEX, after its ALTER TABLEs succeeded.
  ASSERT_TRUE(db_.exec("CREATE INDEX tasks_plan_state ON tasks(state)"));
  auto s = open_postgres_state(db_.options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            db_.label() + ": migration 2: relation \"tasks_plan_state\" already exists");
  EXPECT_EQ(db_.one("SELECT version FROM schema_version"), "1");
  EXPECT_EQ(db_.one("SELECT count(*) FROM information_schema.columns WHERE table_schema = '" +
                    db_.schema() + "' AND table_name = 'tasks' AND column_name = 'requests'"),
            "0");
}

TEST_F(PostgresStateTest, NewerSchemaIsRejectedAndLeftAlone) {
  ASSERT_TRUE(open_postgres_state(db_.options()));
  ASSERT_TRUE(db_.exec("UPDATE schema_version SET version = 99"));
  auto s = open_postgres_state(db_.options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message,
            db_.label() + " has schema version 99; this finsync knows up to 5: upgrade finsync");
  EXPECT_EQ(db_.one("SELECT version FROM schema_version"), "99");
}

TEST_F(PostgresStateTest, MigratingToAnOlderVersionLeavesTheSchemaAsIs) {
  ASSERT_TRUE(open_postgres_state(db_.options()));
  EXPECT_EQ(detail::migrate_postgres_state(db_.options(), 1).value(), 5);
  auto bad = detail::migrate_postgres_state(db_.options(), 6);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "schema version 6 is not between 1 and 5");
}

TEST_F(PostgresStateTest, ForeignSchemaIsRejected) {
  ASSERT_TRUE(db_.exec("CREATE SCHEMA " + db_.schema() + "; CREATE TABLE contacts(name TEXT)"));
  auto s = open_postgres_state(db_.options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message,
            db_.label() +
                " is a PostgreSQL schema but not a finsync state store (it has no schema_version "
                "table)");
  EXPECT_EQ(db_.one("SELECT count(*) FROM contacts"), "0");
}

// Workers on several machines starting at once on a new schema: all see the finished schema.
TEST_F(PostgresStateTest, ConcurrentFirstOpensAllSucceed) {
  for (int round = 0; round < 3; ++round) {
    auto o = db_.options();
    o.schema += "_r" + std::to_string(round);
    std::vector<Result<std::unique_ptr<StateStore>>> opened;
    for (int i = 0; i < 4; ++i) opened.emplace_back(fail(ErrorKind::internal, "not run"));
    std::vector<std::thread> threads;
    for (auto& slot : opened) threads.emplace_back([&o, &slot] { slot = open_postgres_state(o); });
    for (auto& t : threads) t.join();
    for (auto& s : opened) {
      ASSERT_TRUE(s) << s.error().message;
      EXPECT_EQ((*s)->schema_version(), 5);
    }
    EXPECT_EQ(
        db_.one("SELECT count(*) || '|' || max(version) FROM " + o.schema + ".schema_version"),
        "1|5");
    db_.exec("DROP SCHEMA " + o.schema + " CASCADE");
  }
}

TEST_F(PostgresStateTest, PasswordsAuthenticateAndNeverAppearInErrors) {
  // Members of finsync_password_required must give a password over TCP (scripts/servers.sh).
  const std::string role = test::fresh_name("finsync_auth");
  const std::string good = "g00d:p@ss/w%rd-" + role;
  ASSERT_TRUE(db_.exec("CREATE ROLE " + role + " LOGIN PASSWORD '" + good +
                       "' IN ROLE finsync_password_required"))
      << "the server must have the role finsync_password_required (start it with "
         "scripts/servers.sh)";
  // A schema prepared by an administrator: the store needs no CREATE privilege on the database.
  ASSERT_TRUE(db_.exec("CREATE SCHEMA " + db_.schema() + " AUTHORIZATION " + role));
  const std::string where = db_.host() + ":" + db_.port();
  const std::string base = "postgresql://" + role + "@" + where + "/" + db_.db();
  auto with_password = [&](const std::string& pw) {
    return "postgresql://" + role + ":" + percent_encode(pw) + "@" + where + "/" + db_.db();
  };

  const std::string wrong = "Wr0ng-S3cret-" + role;
  struct Case {
    std::string dsn, password;
  };
  for (const Case& c : {Case{base, wrong}, Case{with_password(wrong), ""},
                        Case{with_password(good), wrong}, Case{base, ""}}) {
    PostgresStateOptions o = db_.options();
    o.dsn = c.dsn;
    o.password = c.password;
    auto s = open_postgres_state(o);
    ASSERT_FALSE(s) << c.dsn;
    const std::string& msg = s.error().message;
    EXPECT_EQ(s.error().kind, ErrorKind::auth) << msg;
    EXPECT_EQ(msg.rfind("state store postgres " + where + "/" + db_.db() + " schema ", 0), 0u)
        << msg;
    EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
    for (const std::string& secret : {wrong, percent_encode(wrong), good, percent_encode(good)})
      EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
  }

  for (const Case& c :
       {Case{base, good}, Case{with_password(good), ""}, Case{with_password(wrong), good}}) {
    PostgresStateOptions o = db_.options();
    o.dsn = c.dsn;
    o.password = c.password;
    auto s = open_postgres_state(o);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ((*s)->schema_version(), 5);
  }
  db_.exec("DROP SCHEMA " + db_.schema() + " CASCADE");
  db_.exec("DROP ROLE " + role);
}

TEST_F(PostgresStateTest, UnreachableServerNamesHostAndPort) {
  // A loopback port nobody listens on: bound, then closed.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  PostgresStateOptions o = db_.options();
  o.dsn = "postgresql://finsync:Secr3t-Pw@127.0.0.1:" + port + "/db";
  auto s = open_postgres_state(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::unreachable);
  EXPECT_EQ(s.error().message.rfind("state store postgres 127.0.0.1:" + port + "/db schema ", 0),
            0u)
      << s.error().message;
  EXPECT_NE(s.error().message.find("Connection refused"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find("Secr3t-Pw"), std::string::npos) << s.error().message;
}

TEST_F(PostgresStateTest, MalformedDsnIsInvalidInput) {
  PostgresStateOptions o = db_.options();
  o.dsn = "postgresql://finsync:Secr3t-Pw@127.0.0.1:5432/db?sslmode=sometimes&bogus=1";
  auto s = open_postgres_state(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message.rfind("state store postgres: invalid dsn: ", 0), 0u)
      << s.error().message;
  EXPECT_EQ(s.error().message.find("Secr3t-Pw"), std::string::npos) << s.error().message;
}

// Restarts the shared test server, so ctest runs it alone (RUN_SERIAL, tests/CMakeLists.txt).
class PostgresStateRestartTest : public PostgresStateTest {};

TEST_F(PostgresStateRestartTest, StoreReconnectsAfterServerRestart) {
  const char* restart = std::getenv("FINSYNC_TEST_PG_RESTART");
  ASSERT_TRUE(restart != nullptr && *restart != '\0')
      << "FINSYNC_TEST_PG_RESTART is unset: it is the command that restarts the server of "
         "FINSYNC_TEST_PG_DSN (set by scripts/servers.sh)";
  auto s = open_postgres_state(db_.options());
  ASSERT_TRUE(s) << s.error().message;
  PlanRecord p;
  p.name = "p";
  p.spec_yaml = "name: p";
  ASSERT_TRUE((*s)->put_plan(p));

  ASSERT_EQ(std::system(restart), 0) << restart;
  // The first statement after the restart finds the connection gone; the store reconnects and
  // runs the operation again, reads and writes alike.
  auto got = (*s)->get_plan("p");
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ASSERT_EQ(std::system(restart), 0) << restart;
  Task t;
  t.id = "t1";
  t.plan = "p";
  auto added = (*s)->add_tasks({t});
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(*added, 1);
  EXPECT_EQ((*s)->list_tasks("p").value().size(), 1u);
}

// The quota ledger in PostgreSQL: two workers (two connections) share one budget and see each
// other's blocks; a worker that starts later sees what was spent.
TEST_F(PostgresStateTest, QuotaLedgerIsSharedByWorkers) {
  using namespace std::chrono_literals;
  auto s = open_postgres_state(db_.options());
  ASSERT_TRUE(s) << s.error().message;
  auto la = (*s)->open_ledger();
  auto lb = (*s)->open_ledger();
  ASSERT_TRUE(la && lb);
  ratelimit::LimiterOptions o;
  o.provider = "p";
  ratelimit::WindowSpec day;
  day.limit = 3;
  day.per = 30s;
  day.align = ratelimit::Align::epoch;
  day.quota = true;
  o.windows = {day};
  FakeClock clock(TimePoint(1'000'021s));
  ratelimit::Limiter a(o, **la, clock);
  ratelimit::Limiter b(o, **lb, clock);
  auto a1 = a.try_acquire("daily");
  auto b1 = b.try_acquire("daily");
  auto a2 = a.try_acquire("daily");
  ASSERT_TRUE(a1 && a1->granted && b1 && b1->granted && a2 && a2->granted);
  ASSERT_TRUE(a.release(a1->permit));
  auto b2 = b.try_acquire("daily");
  ASSERT_TRUE(b2);
  EXPECT_FALSE(b2->granted);
  ASSERT_TRUE(b2->quota.has_value());
  EXPECT_EQ(*b2->retry_at, TimePoint(1'000'050s));
  auto lc = (*s)->open_ledger();
  ASSERT_TRUE(lc);
  ratelimit::Limiter c(o, **lc, clock);
  auto u = c.usage();
  ASSERT_TRUE(u);
  EXPECT_EQ((*u)[0].used, 3);
  ASSERT_TRUE(a.block_until("", TimePoint(1'000'100s), "HTTP 418"));
  clock.set(TimePoint(1'000'060s));
  auto blocked = b.try_acquire("daily");
  ASSERT_TRUE(blocked);
  EXPECT_FALSE(blocked->granted);
  EXPECT_EQ(blocked->reason, "HTTP 418");
  EXPECT_EQ(db_.one("SELECT count(*) FROM quota_blocks"), "1");
}

}  // namespace
}  // namespace finsync::state
