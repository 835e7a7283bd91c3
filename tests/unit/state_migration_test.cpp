#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "state/sqlite_store_internal.hpp"
#include "state/state_store.hpp"

namespace finsync::state {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Raw SQLite access, to build and inspect files the way an older or newer finsync left them.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  int exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (err != nullptr) {
      last_error_ = err;
      sqlite3_free(err);
    }
    return rc;
  }
  // Every row of `sql`, columns joined by '|', NULL as "NULL".
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        if (c > 0) row += '|';
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        row += t != nullptr ? t : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(st);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.size() == 1 ? r[0] : "<" + std::to_string(r.size()) + " rows>";
  }
  std::vector<std::string> columns(const std::string& table) {
    return rows("SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid");
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

class StateMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("finsync_state_mig_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name = "state.db") const { return (dir_ / name).string(); }

  fs::path dir_;
};

// The schema objects of a database in a stable textual form.
std::string schema_dump(const std::string& path) {
  RawDb db(path);
  std::string out;
  for (const auto& row : db.rows("SELECT type, name, sql FROM sqlite_master "
                                 "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")) {
    out += row + ";\n";
  }
  out += "-- schema_version: " + db.one("SELECT version FROM schema_version") + "\n";
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(StateMigrationTest, MigrationStepsAreNumberedFromOneWithoutGaps) {
  const auto steps = detail::sqlite_migrations();
  ASSERT_EQ(steps.size(), 5u);
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(detail::sqlite_schema_version_latest(), 5);
}

// Released schemas are frozen in tests/data/state/v<N>_schema.txt: a step that was edited after
// release, or a new step without its fixture, fails here. Regenerate deliberately with
// FINSYNC_UPDATE_STATE_FIXTURES=1 (only for a version that has not been released).
TEST_F(StateMigrationTest, EachVersionMatchesItsFrozenSchema) {
  const fs::path data = fs::path(FINSYNC_SOURCE_DIR) / "tests" / "data" / "state";
  const bool update = std::getenv("FINSYNC_UPDATE_STATE_FIXTURES") != nullptr;
  for (int v = 1; v <= detail::sqlite_schema_version_latest(); ++v) {
    const std::string p = path("v" + std::to_string(v) + ".db");
    auto r = detail::migrate_sqlite_state(p, v);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(*r, v);
    const std::string dump = schema_dump(p);
    const fs::path fixture = data / ("v" + std::to_string(v) + "_schema.txt");
    if (update) {
      std::ofstream(fixture) << dump;
      continue;
    }
    ASSERT_TRUE(fs::exists(fixture)) << fixture << " is missing";
    EXPECT_EQ(dump, read_text(fixture)) << "schema of version " << v << " changed";
  }
}

TEST_F(StateMigrationTest, VersionOneLacksWhatVersionTwoAdds) {
  ASSERT_EQ(detail::migrate_sqlite_state(path(), 1).value(), 1);
  RawDb db(path());
  EXPECT_EQ(db.one("SELECT version FROM schema_version"), "1");
  EXPECT_EQ(db.columns("tasks"),
            (std::vector<std::string>{"id", "plan", "params_json", "start_day", "end_day", "state",
                                      "attempts", "rows", "bytes", "duration_ms", "last_error",
                                      "resume_at", "parent", "run_id", "updated_at"}));
  EXPECT_EQ(db.one("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'rate_limited'"),
            "0");
  EXPECT_EQ(db.one("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE "
                   "'sqlite_%'"),
            "0");
}

TEST_F(StateMigrationTest, VersionOneDatabaseMigratesAndKeepsItsData) {
  ASSERT_EQ(detail::migrate_sqlite_state(path(), 1).value(), 1);
  {
    // Data as finsync 1 wrote it, with version-1 columns only.
    RawDb db(path());
    ASSERT_EQ(db.exec(R"sql(
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
)sql"),
              SQLITE_OK)
        << db.last_error();
  }

  auto s = open_sqlite_state(path());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 5);

  auto t1 = (*s)->get_task("t1");
  ASSERT_TRUE(t1 && t1->has_value()) << (t1 ? "missing" : t1.error().message);
  EXPECT_EQ((*t1)->plan, "daily");
  EXPECT_EQ((*t1)->params_json, R"({"ts_code":"000001.SZ"})");
  EXPECT_EQ((*t1)->start_day, 19723);
  EXPECT_EQ((*t1)->end_day, 19753);
  EXPECT_EQ((*t1)->state, TaskState::parked);
  EXPECT_EQ((*t1)->attempts, 2);
  EXPECT_EQ((*t1)->rows, 4000);
  EXPECT_EQ((*t1)->bytes, 96000);
  EXPECT_EQ((*t1)->duration_ms, 812);
  EXPECT_EQ((*t1)->last_error, "quota_exhausted");
  EXPECT_EQ((*t1)->resume_at, TimePoint(1709300000000000us));
  EXPECT_EQ((*t1)->run_id, "r1");
  EXPECT_EQ((*t1)->requests, 0);  // new column, default

  auto plan = (*s)->get_plan("daily");
  ASSERT_TRUE(plan && plan->has_value());
  EXPECT_EQ((*plan)->universe_json, R"([{"ts_code":"000001.SZ"}])");
  EXPECT_EQ((*plan)->updated_at, TimePoint(1709285400000001us));

  auto r1 = (*s)->get_run("r1");
  ASSERT_TRUE(r1 && r1->has_value());
  EXPECT_EQ((*r1)->status, "interrupted");
  EXPECT_EQ((*r1)->rows, 4000);
  EXPECT_EQ((*r1)->requests, 3);
  EXPECT_EQ((*r1)->retries, 1);
  EXPECT_EQ((*r1)->rate_limited, 0);  // new column, default
  EXPECT_EQ((*r1)->finished_at, std::nullopt);

  // The migrated store works with the new columns.
  EXPECT_EQ((*s)->expire_leases("daily", Clock_t::now()).value(),
            1);  // no lease: its holder is gone
  Task t = **t1;
  t.requests = 5;
  ASSERT_TRUE((*s)->update_task(t));
  EXPECT_EQ((*s)->get_task("t1").value()->requests, 5);
  s->reset();

  RawDb db(path());
  EXPECT_EQ(db.one("SELECT version FROM schema_version"), "5");
  EXPECT_EQ(db.one("SELECT count(*) FROM schema_version"), "1");
  EXPECT_EQ(db.one("SELECT dflt_value || '|' || \"notnull\" FROM pragma_table_info('tasks') "
                   "WHERE name = 'requests'"),
            "0|1");
  EXPECT_EQ(db.one("SELECT dflt_value || '|' || \"notnull\" FROM pragma_table_info('runs') "
                   "WHERE name = 'rate_limited'"),
            "0|1");
  EXPECT_EQ(db.rows("SELECT name FROM pragma_index_info('tasks_plan_state') ORDER BY seqno"),
            (std::vector<std::string>{"plan", "state"}));
  EXPECT_EQ(db.one("SELECT state FROM tasks WHERE id = 't2'"), "pending");
}

// A task a version-4 finsync left running has no lease: the next run may take it at once.
TEST_F(StateMigrationTest, VersionFourRunningTaskHasNoLeaseAfterMigration) {
  ASSERT_EQ(detail::migrate_sqlite_state(path(), 4).value(), 4);
  {
    RawDb db(path());
    ASSERT_EQ(db.exec(R"sql(
INSERT INTO plans(name, spec_yaml, fingerprint, universe_json, created_at, updated_at)
VALUES ('daily', 'name: daily', 'fp1', '[]', 1709285400000000, 1709285400000001);
INSERT INTO tasks(id, plan, params_json, start_day, end_day, state, attempts, updated_at)
VALUES ('t1', 'daily', '{}', 19723, 19753, 'running', 1, 1709285400000000);
)sql"),
              SQLITE_OK)
        << db.last_error();
  }
  auto s = open_sqlite_state(path());
  ASSERT_TRUE(s) << s.error().message;
  Task t = (*s)->get_task("t1").value().value();
  EXPECT_EQ(t.lease_holder, "");
  EXPECT_EQ(t.lease_until, std::nullopt);
  EXPECT_EQ(t.page_cursor, "");
  const TimePoint t0 = TimePoint(1709285400000000us);
  auto claimed = (*s)->claim_tasks({"t1"}, "h1", t0, t0 + 30s);
  ASSERT_TRUE(claimed) << claimed.error().message;
  EXPECT_EQ(claimed->size(), 1u);
  EXPECT_FALSE((*s)->claim_plan_writer("daily", "h1", t0, t0 + 30s).value().has_value());
  s->reset();
  RawDb db(path());
  EXPECT_EQ(db.one("SELECT version FROM schema_version"), "5");
  EXPECT_EQ(db.rows("SELECT name FROM pragma_index_info('tasks_lease_holder')"),
            (std::vector<std::string>{"lease_holder"}));
}

TEST_F(StateMigrationTest, FailedMigrationRollsBackWithItsVersionBump) {
  ASSERT_EQ(detail::migrate_sqlite_state(path(), 1).value(), 1);
  {
    // An object in the way of migration 2's CREATE INDEX, after its ALTER TABLEs succeeded.
    RawDb db(path());
    ASSERT_EQ(db.exec("CREATE INDEX tasks_plan_state ON tasks(state)"), SQLITE_OK);
  }
  auto s = open_sqlite_state(path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message,
            "state store " + path() + ": migration 2: index tasks_plan_state already exists");
  RawDb db(path());
  EXPECT_EQ(db.one("SELECT version FROM schema_version"), "1");
  EXPECT_EQ(db.one("SELECT count(*) FROM pragma_table_info('tasks') WHERE name = 'requests'"), "0");
  EXPECT_EQ(db.one("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'rate_limited'"),
            "0");
}

TEST_F(StateMigrationTest, NewerSchemaIsRejectedAndLeftAlone) {
  ASSERT_TRUE(open_sqlite_state(path()));
  {
    RawDb db(path());
    ASSERT_EQ(db.exec("UPDATE schema_version SET version = 99"), SQLITE_OK);
  }
  auto s = open_sqlite_state(path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message, "state store " + path() +
                                   " has schema version 99; this finsync knows up to 5: "
                                   "upgrade finsync");
  RawDb db(path());
  EXPECT_EQ(db.one("SELECT version FROM schema_version"), "99");
}

TEST_F(StateMigrationTest, MigratingToAnOlderVersionLeavesTheFileAsIs) {
  ASSERT_TRUE(open_sqlite_state(path()));
  EXPECT_EQ(detail::migrate_sqlite_state(path(), 1).value(), 5);
  auto bad = detail::migrate_sqlite_state(path(), 6);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "schema version 6 is not between 1 and 5");
}

// Two processes starting on a new file at once: both see the finished schema.
TEST_F(StateMigrationTest, ConcurrentFirstOpensBothSucceed) {
  for (int round = 0; round < 5; ++round) {
    const std::string p = path("race" + std::to_string(round) + ".db");
    Result<std::unique_ptr<StateStore>> a = fail(ErrorKind::internal, "not run");
    Result<std::unique_ptr<StateStore>> b = fail(ErrorKind::internal, "not run");
    std::thread ta([&] { a = open_sqlite_state(p); });
    std::thread tb([&] { b = open_sqlite_state(p); });
    ta.join();
    tb.join();
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_EQ((*a)->schema_version(), 5);
    EXPECT_EQ((*b)->schema_version(), 5);
    RawDb db(p);
    EXPECT_EQ(db.one("SELECT count(*) || '|' || max(version) FROM schema_version"), "1|5");
  }
}

}  // namespace
}  // namespace finsync::state
