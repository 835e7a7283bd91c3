#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "pg_test_support.hpp"
#include "state/state_store.hpp"

namespace finsync::state {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// 2024-03-01T09:30:00.123456Z: microsecond precision, which is what the store keeps.
const TimePoint kT0 = TimePoint(1709285400123456us);

// Reads one integer with the raw SQLite API, to check what is really in the file.
int64_t raw_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  EXPECT_EQ(sqlite3_step(st), SQLITE_ROW) << sql;
  const int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

}  // namespace

// Named namespace, short class names: ctest shows the typed tests as
// StateStoreTest.<test><finsync::state::backend::Sqlite>.
namespace backend {

// Each store kind behind the same questions: open a store at a fresh private place, name it as
// its errors do, and read what it really persisted with a client other than the store's.
class Sqlite {
 public:
  static constexpr const char* kIntegerType = "integer";
  static constexpr const char* kForeignKeyViolation = "FOREIGN KEY constraint failed";

  void set_up() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("finsync_state_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void tear_down() { fs::remove_all(dir_); }

  Result<std::unique_ptr<StateStore>> open() { return open_sqlite_state(path()); }
  std::string label() const { return "state store " + path(); }
  int64_t raw_int(const std::string& sql) { return state::raw_int(path(), sql); }
  // The type the stored value of table.column has.
  std::string raw_type(const std::string& table, const std::string& column) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    const std::string sql = "SELECT typeof(" + column + ") FROM " + table;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    EXPECT_EQ(sqlite3_step(st), SQLITE_ROW) << sql;
    std::string out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

 private:
  std::string path() const { return (dir_ / "state.db").string(); }
  fs::path dir_;
};

class Postgres {
 public:
  static constexpr const char* kIntegerType = "bigint";
  static constexpr const char* kForeignKeyViolation =
      "insert or update on table \"tasks\" violates foreign key constraint \"tasks_plan_fkey\"";

  // Fails the test (the body does not run) when no server is configured.
  void set_up() { ASSERT_NO_FATAL_FAILURE(db_.set_up()); }
  void tear_down() { db_.tear_down(); }

  Result<std::unique_ptr<StateStore>> open() { return open_postgres_state(db_.options()); }
  std::string label() const { return db_.label(); }
  int64_t raw_int(const std::string& sql) { return std::stoll(db_.one(sql)); }
  std::string raw_type(const std::string& table, const std::string& column) {
    return db_.one("SELECT pg_typeof(" + column + ")::text FROM " + table);
  }

 private:
  test::PgSchema db_;
};

}  // namespace backend

namespace {

template <class Backend>
class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(backend_.set_up()); }
  void TearDown() override { backend_.tear_down(); }

  std::unique_ptr<StateStore> open() {
    auto s = backend_.open();
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }

  Backend backend_;
};

using Backends = ::testing::Types<backend::Sqlite, backend::Postgres>;
TYPED_TEST_SUITE(StateStoreTest, Backends);

PlanRecord plan(const std::string& name) {
  PlanRecord p;
  p.name = name;
  p.spec_yaml = "name: " + name + "\nprovider: tushare\n";
  p.fingerprint = "fp-" + name;
  p.universe_json = R"([{"ts_code":"000001.SZ"}])";
  p.created_at = kT0;
  p.updated_at = kT0 + 1s;
  return p;
}

Task task(const std::string& id, const std::string& plan_name, int32_t start) {
  Task t;
  t.id = id;
  t.plan = plan_name;
  t.params_json = R"({"ts_code":")" + id + R"("})";
  t.start_day = start;
  t.end_day = start + 30;
  return t;
}

std::vector<std::string> ids(const std::vector<Task>& tasks) {
  std::vector<std::string> out;
  for (const auto& t : tasks) out.push_back(t.id);
  return out;
}

void expect_same_task(const Task& a, const Task& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.plan, b.plan);
  EXPECT_EQ(a.params_json, b.params_json);
  EXPECT_EQ(a.start_day, b.start_day);
  EXPECT_EQ(a.end_day, b.end_day);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.duration_ms, b.duration_ms);
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.last_error, b.last_error);
  EXPECT_EQ(a.resume_at, b.resume_at);
  EXPECT_EQ(a.parent, b.parent);
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.page_cursor, b.page_cursor);
}

// What only the SQLite store has: a file, its directory, WAL.
class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("finsync_state_sqlite_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name = "state.db") const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(SqliteStateStoreTest, OpenCreatesParentDirectoriesWalAndLatestSchema) {
  const std::string p = (dir_ / "a" / "b" / "state.db").string();
  auto s = open_sqlite_state(p);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 5);
  EXPECT_TRUE(fs::exists(p));
  EXPECT_EQ(raw_int(p, "SELECT version FROM schema_version"), 5);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TYPED_TEST(StateStoreTest, OpenCreatesTheLatestSchema) {
  auto s = this->open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), 5);
  EXPECT_EQ(this->backend_.raw_int("SELECT version FROM schema_version"), 5);
  EXPECT_EQ(this->backend_.raw_int("SELECT count(*) FROM schema_version"), 1);
}

TYPED_TEST(StateStoreTest, MarksOnlyMoveForwardAndGoWithThePlan) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("daily")));
  ASSERT_TRUE(s->put_plan(plan("other")));
  EXPECT_TRUE(s->list_marks("daily").value().empty());
  ASSERT_TRUE(
      s->advance_marks("daily", {{"{\"ts_code\":\"A\"}", 100}, {"{\"ts_code\":\"B\"}", 90}}));
  ASSERT_TRUE(
      s->advance_marks("daily", {{"{\"ts_code\":\"A\"}", 95}, {"{\"ts_code\":\"B\"}", 91}}));
  ASSERT_TRUE(s->advance_marks("other", {{"{}", 7}}));
  const std::map<std::string, int32_t> want = {{"{\"ts_code\":\"A\"}", 100},
                                               {"{\"ts_code\":\"B\"}", 91}};
  EXPECT_EQ(s->list_marks("daily").value(), want);
  ASSERT_TRUE(s->clear_marks("daily"));
  EXPECT_TRUE(s->list_marks("daily").value().empty());
  ASSERT_TRUE(s->remove_plan("other").value());
  EXPECT_TRUE(s->list_marks("other").value().empty());
}

TYPED_TEST(StateStoreTest, PlanPutGetUpdateList) {
  auto s = this->open();
  ASSERT_TRUE(s);
  auto missing = s->get_plan("daily");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  ASSERT_TRUE(s->put_plan(plan("daily")));
  auto got = s->get_plan("daily");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->name, "daily");
  EXPECT_EQ((*got)->spec_yaml, "name: daily\nprovider: tushare\n");
  EXPECT_EQ((*got)->fingerprint, "fp-daily");
  EXPECT_EQ((*got)->universe_json, R"([{"ts_code":"000001.SZ"}])");
  EXPECT_EQ((*got)->created_at, kT0);
  EXPECT_EQ((*got)->updated_at, kT0 + 1s);

  // Update: every field but created_at, which stays from the first put.
  PlanRecord changed = plan("daily");
  changed.spec_yaml = "name: daily\nprovider: tushare\nendpoint: daily_basic\n";
  changed.fingerprint = "fp-2";
  changed.universe_json = "[]";
  changed.created_at = kT0 + 1h;
  changed.updated_at = kT0 + 2h;
  ASSERT_TRUE(s->put_plan(changed));
  got = s->get_plan("daily");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->spec_yaml, "name: daily\nprovider: tushare\nendpoint: daily_basic\n");
  EXPECT_EQ((*got)->fingerprint, "fp-2");
  EXPECT_EQ((*got)->universe_json, "[]");
  EXPECT_EQ((*got)->created_at, kT0);
  EXPECT_EQ((*got)->updated_at, kT0 + 2h);

  ASSERT_TRUE(s->put_plan(plan("alpha")));
  auto all = s->list_plans();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alpha");
  EXPECT_EQ((*all)[1].name, "daily");
  EXPECT_EQ((*all)[1].fingerprint, "fp-2");
}

TYPED_TEST(StateStoreTest, UpdatingAPlanKeepsItsTasks) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  ASSERT_EQ(s->add_tasks({task("t1", "p", 10)}).value(), 1);
  PlanRecord changed = plan("p");
  changed.fingerprint = "fp-new";
  ASSERT_TRUE(s->put_plan(changed));
  EXPECT_EQ(ids(s->list_tasks("p").value()), std::vector<std::string>{"t1"});
}

TYPED_TEST(StateStoreTest, AddTasksIsIdempotent) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  std::vector<Task> batch = {task("t1", "p", 10), task("t2", "p", 20), task("t3", "p", 30)};
  auto added = s->add_tasks(batch);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(*added, 3);
  EXPECT_EQ(s->add_tasks(batch).value(), 0);

  // A re-plan that finds two known tasks and one new one; the known ones keep their progress.
  Task t1 = batch[0];
  t1.state = TaskState::succeeded;
  t1.rows = 500;
  ASSERT_TRUE(s->update_task(t1));
  std::vector<Task> replan = {task("t1", "p", 10), task("t3", "p", 30), task("t4", "p", 40)};
  EXPECT_EQ(s->add_tasks(replan).value(), 1);
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(*all), (std::vector<std::string>{"t1", "t2", "t3", "t4"}));
  EXPECT_EQ((*all)[0].state, TaskState::succeeded);
  EXPECT_EQ((*all)[0].rows, 500);
  EXPECT_EQ(s->add_tasks({}).value(), 0);
}

TYPED_TEST(StateStoreTest, AddTasksIsOneTransaction) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  // The last task names a plan that does not exist: the foreign key rejects the whole batch.
  auto r = s->add_tasks({task("t1", "p", 10), task("t2", "p", 20), task("x", "nope", 30)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r.error().message,
            this->backend_.label() + ": add_tasks: " + TypeParam::kForeignKeyViolation);
  EXPECT_TRUE(s->list_tasks("p").value().empty());
  EXPECT_EQ(s->add_tasks({task("t1", "p", 10)}).value(), 1);  // the store is usable afterwards
}

TYPED_TEST(StateStoreTest, ListTasksOrdersByIdWithinPlan) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  ASSERT_TRUE(s->put_plan(plan("q")));
  // Bytewise: "B" before "a", whatever the database's collation.
  ASSERT_EQ(s->add_tasks({task("c", "p", 20), task("b", "p", 10), task("a", "p", 20),
                          task("z", "p", -5), task("B", "p", 40), task("other", "q", 0)})
                .value(),
            6);
  EXPECT_EQ(ids(s->list_tasks("p").value()), (std::vector<std::string>{"B", "a", "b", "c", "z"}));
  EXPECT_EQ(ids(s->list_tasks("q").value()), std::vector<std::string>{"other"});
  EXPECT_TRUE(s->list_tasks("none").value().empty());
  auto missing = s->get_task("nope");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

// The SQLite store inserts 32 tasks per statement, the PostgreSQL store 1000: a batch that is no
// multiple of either, with known ids scattered through it, adds exactly the new ones, and every
// field of each row is its own task's (no column is bound to the wrong row).
TYPED_TEST(StateStoreTest, AddTasksAcrossMultiRowStatementsCountsOnlyNewIds) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  std::vector<Task> first;
  for (int i = 0; i < 2100; i += 3) first.push_back(task(fmt::format("t{:05d}", i), "p", i));
  ASSERT_EQ(s->add_tasks(first).value(), 700);
  std::vector<Task> all;
  for (int i = 0; i < 2100; ++i) {
    Task t = task(fmt::format("t{:05d}", i), "p", i);
    t.end_day = i + 7;
    t.params_json = fmt::format(R"({{"ts_code":"{:06d}.SZ"}})", i);
    all.push_back(std::move(t));
  }
  ASSERT_EQ(s->add_tasks(all).value(), 1400);
  auto listed = s->list_tasks("p");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2100u);
  for (int i = 0; i < 2100; ++i) {
    const Task& t = (*listed)[size_t(i)];
    ASSERT_EQ(t.id, fmt::format("t{:05d}", i));
    ASSERT_EQ(t.start_day, i);
    // The first batch's tasks keep their own fields; the others are the second batch's.
    ASSERT_EQ(t.end_day, i % 3 == 0 ? task(t.id, "p", i).end_day : i + 7) << t.id;
    ASSERT_EQ(t.params_json, i % 3 == 0 ? task(t.id, "p", i).params_json
                                        : fmt::format(R"({{"ts_code":"{:06d}.SZ"}})", i))
        << t.id;
  }
}

// More tasks than one read of the PostgreSQL store's cursor (10,000 rows) holds.
TYPED_TEST(StateStoreTest, ListTasksReadsAPlanLargerThanOneChunk) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  std::vector<Task> batch;
  for (int i = 25000; i >= 0; --i) batch.push_back(task(fmt::format("t{:05d}", i), "p", i));
  ASSERT_EQ(s->add_tasks(batch).value(), 25001);
  auto listed = s->list_tasks("p");
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 25001u);
  for (size_t i = 0; i < listed->size(); ++i) {
    ASSERT_EQ((*listed)[i].id, fmt::format("t{:05d}", i));
    ASSERT_EQ((*listed)[i].start_day, int32_t(i));
  }
}

TYPED_TEST(StateStoreTest, UpdateTaskRoundTripsEveryField) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  Task t = task("600000.SH/2024", "p", 19723);
  t.parent = "600000.SH/2024H";
  ASSERT_EQ(s->add_tasks({t}).value(), 1);

  auto fresh = s->get_task(t.id);
  ASSERT_TRUE(fresh && fresh->has_value());
  expect_same_task(**fresh, t);
  EXPECT_EQ((*fresh)->resume_at, std::nullopt);

  t.state = TaskState::parked;
  t.attempts = 3;
  t.rows = 123456789012;
  t.bytes = 9876543210;
  t.duration_ms = 4321;
  t.requests = 17;
  t.last_error = "quota_exhausted: daily points used up; \"retry\" tomorrow";
  t.resume_at = kT0 + 15h;
  t.run_id = "run-42";
  t.page_cursor = "/v2/aggs/ticker/AAPL/range/1/day/1700000000000/2024-01-31?cursor=bGltaXQ9Mg";
  ASSERT_TRUE(s->update_task(t));
  auto got = s->get_task(t.id);
  ASSERT_TRUE(got && got->has_value());
  expect_same_task(**got, t);
  ASSERT_TRUE((*got)->resume_at.has_value());
  EXPECT_EQ(*(*got)->resume_at, kT0 + 15h);
  // Times are integer microseconds since the epoch in the store.
  s.reset();
  EXPECT_EQ(this->backend_.raw_int("SELECT resume_at FROM tasks"),
            1709285400123456 + 15 * 3600000000LL);
  EXPECT_EQ(this->backend_.raw_type("tasks", "resume_at"), TypeParam::kIntegerType);
  s = this->open();
  ASSERT_TRUE(s);

  // Empty optional and empty strings go back as empty.
  t.state = TaskState::pending;
  t.resume_at.reset();
  t.last_error.clear();
  t.run_id.clear();
  t.page_cursor.clear();
  ASSERT_TRUE(s->update_task(t));
  got = s->get_task(t.id);
  ASSERT_TRUE(got && got->has_value());
  expect_same_task(**got, t);
  EXPECT_EQ((*got)->resume_at, std::nullopt);
  EXPECT_EQ((*got)->last_error, "");

  // update_task writes progress only: identity fields stay as added.
  Task other = t;
  other.plan = "q";
  other.params_json = "{}";
  other.start_day = 1;
  other.end_day = 2;
  other.parent = "x";
  other.state = TaskState::running;
  ASSERT_TRUE(s->update_task(other));
  got = s->get_task(t.id);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->plan, "p");
  EXPECT_EQ((*got)->params_json, R"({"ts_code":"600000.SH/2024"})");
  EXPECT_EQ((*got)->start_day, 19723);
  EXPECT_EQ((*got)->end_day, 19753);
  EXPECT_EQ((*got)->parent, "600000.SH/2024H");
  EXPECT_EQ((*got)->state, TaskState::running);
}

TYPED_TEST(StateStoreTest, UpdateOfUnknownTaskIsNotFound) {
  auto s = this->open();
  ASSERT_TRUE(s);
  auto r = s->update_task(task("ghost", "p", 0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().message, this->backend_.label() + ": update_task: no task with id ghost");
}

TYPED_TEST(StateStoreTest, UpdateTasksWritesEveryTaskOrNone) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  std::vector<Task> tasks = {task("t1", "p", 10), task("t2", "p", 20), task("t3", "p", 30),
                             task("t4", "p", 40)};
  ASSERT_EQ(s->add_tasks(tasks).value(), 4);
  tasks[0].state = TaskState::succeeded;
  tasks[0].attempts = 1;
  tasks[0].rows = 250;
  tasks[0].bytes = 9000;
  tasks[0].duration_ms = 31;
  tasks[0].requests = 2;
  tasks[0].run_id = "r1";
  tasks[1].state = TaskState::parked;
  tasks[1].resume_at = kT0 + 8h;
  tasks[1].last_error = "quota default daily 150/300s@epoch spent (150/150)";
  tasks[2].state = TaskState::cancelled;
  ASSERT_TRUE(s->update_tasks({tasks[0], tasks[1], tasks[2]}));
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 4u);
  for (size_t i = 0; i < 4; ++i) expect_same_task((*all)[i], tasks[i]);
  EXPECT_EQ((*all)[3].state, TaskState::pending);  // not in the batch

  // One unknown id: nothing of the batch is written.
  Task changed = tasks[0];
  changed.state = TaskState::dead;
  changed.last_error = "gone";
  auto r = s->update_tasks({changed, task("ghost", "p", 0), tasks[3]});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().message, this->backend_.label() + ": update_tasks: no task with id ghost");
  expect_same_task(s->get_task("t1").value().value(), tasks[0]);
  EXPECT_TRUE(s->update_tasks({}));
}

TYPED_TEST(StateStoreTest, UpdateTasksOfALargeBatch) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  // More than one statement's worth for a store that sends the batch in chunks.
  std::vector<Task> tasks;
  for (int i = 0; i < 2500; ++i) tasks.push_back(task("t" + std::to_string(10000 + i), "p", i));
  ASSERT_EQ(s->add_tasks(tasks).value(), 2500);
  for (int i = 0; i < 2500; ++i) {
    Task& t = tasks[size_t(i)];
    t.state = i % 2 == 0 ? TaskState::succeeded : TaskState::running;
    t.rows = i;
    t.attempts = 1 + i % 3;
    if (i % 5 == 0) t.resume_at = kT0 + std::chrono::seconds(i);
  }
  ASSERT_TRUE(s->update_tasks(tasks));
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2500u);
  for (size_t i = 0; i < tasks.size(); ++i) expect_same_task((*all)[i], tasks[i]);
  EXPECT_EQ(this->backend_.raw_int("SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 1250);
  EXPECT_EQ(this->backend_.raw_int("SELECT sum(rows) FROM tasks"), 2500 * 2499 / 2);
}

TYPED_TEST(StateStoreTest, SplitTaskMarksParentAndInsertsChildren) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  Task parent = task("P", "p", 100);
  parent.end_day = 199;
  ASSERT_EQ(s->add_tasks({parent}).value(), 1);
  parent.state = TaskState::running;
  parent.attempts = 1;
  parent.requests = 1;
  parent.run_id = "r1";
  ASSERT_TRUE(s->update_task(parent));

  Task c1 = task("P/1", "p", 100);
  c1.end_day = 149;
  Task c2 = task("P/2", "p", 150);
  c2.end_day = 199;
  ASSERT_TRUE(s->split_task(parent, {c1, c2}));

  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(ids(*all), (std::vector<std::string>{"P", "P/1", "P/2"}));
  EXPECT_EQ((*all)[0].state, TaskState::split);
  EXPECT_EQ((*all)[0].requests, 1);
  EXPECT_EQ((*all)[0].run_id, "r1");
  for (int i : {1, 2}) {
    EXPECT_EQ((*all)[i].state, TaskState::pending);
    EXPECT_EQ((*all)[i].parent, "P");  // set by the store
  }
  EXPECT_EQ((*all)[1].end_day, 149);
  EXPECT_EQ((*all)[2].start_day, 150);
}

TYPED_TEST(StateStoreTest, SplitTaskIsAtomic) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  Task parent = task("P", "p", 100);
  parent.state = TaskState::running;
  ASSERT_EQ(s->add_tasks({parent}).value(), 1);

  // The second child cannot be inserted: the parent must not end up split.
  auto r = s->split_task(parent, {task("P/1", "p", 100), task("P/2", "missing-plan", 150)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(ids(*all), std::vector<std::string>{"P"});
  EXPECT_EQ((*all)[0].state, TaskState::running);

  // A parent that does not exist: nothing is inserted.
  auto r2 = s->split_task(task("ghost", "p", 0), {task("ghost/1", "p", 0)});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(s->get_task("ghost/1").value().has_value());
}

TYPED_TEST(StateStoreTest, MergeTasksRetiresPendingPartsAndInsertsTheWiderTask) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  Task a = task("A/1", "p", 100), b = task("A/2", "p", 131), c = task("A/3", "p", 162);
  ASSERT_EQ(s->add_tasks({a, b, c}).value(), 3);
  Task merged = task("A/12", "p", 100);
  merged.end_day = b.end_day;
  ASSERT_EQ(s->merge_tasks({a, b}, merged).value(), true);
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(ids(*all), (std::vector<std::string>{"A/1", "A/12", "A/2", "A/3"}));
  EXPECT_EQ((*all)[0].state, TaskState::split);
  EXPECT_EQ((*all)[1].state, TaskState::pending);
  EXPECT_EQ((*all)[1].end_day, 161);
  EXPECT_EQ((*all)[2].state, TaskState::split);
  EXPECT_EQ((*all)[3].state, TaskState::pending);
}

TYPED_TEST(StateStoreTest, MergeTasksChangesNothingUnlessEveryPartIsPendingAndTheIdIsNew) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  Task a = task("A/1", "p", 100), b = task("A/2", "p", 131);
  ASSERT_EQ(s->add_tasks({a, b}).value(), 2);
  b.state = TaskState::running;  // another worker took it
  ASSERT_TRUE(s->update_task(b));
  Task merged = task("A/12", "p", 100);
  ASSERT_EQ(s->merge_tasks({a, b}, merged).value(), false);
  auto all = s->list_tasks("p");
  ASSERT_TRUE(all);
  ASSERT_EQ(ids(*all), (std::vector<std::string>{"A/1", "A/2"}));
  EXPECT_EQ((*all)[0].state, TaskState::pending);  // rolled back
  EXPECT_EQ((*all)[1].state, TaskState::running);

  // The wider window's id exists already (a task split earlier had it).
  b.state = TaskState::pending;
  ASSERT_TRUE(s->update_task(b));
  Task taken = task("A/1", "p", 100);
  ASSERT_EQ(s->merge_tasks({b}, taken).value(), false);
  EXPECT_EQ(s->get_task("A/2").value()->state, TaskState::pending);
}

std::vector<std::string> sorted_ids(const std::vector<Task>& tasks) {
  std::vector<std::string> out = ids(tasks);
  std::sort(out.begin(), out.end());
  return out;
}

TYPED_TEST(StateStoreTest, ClaimLeasesFreeTasksToOneHolder) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  std::vector<Task> tasks = {task("a1", "a", 1), task("a2", "a", 2), task("a3", "a", 3),
                             task("a4", "a", 4), task("a5", "a", 5), task("a6", "a", 6)};
  tasks[3].state = TaskState::succeeded;
  tasks[4].state = TaskState::dead;
  tasks[5].state = TaskState::parked;
  tasks[5].attempts = 2;
  ASSERT_EQ(s->add_tasks(tasks).value(), 6);

  auto mine = s->claim_tasks({"a1", "a2", "a4", "a5", "nope"}, "h1", kT0, kT0 + 30s);
  ASSERT_TRUE(mine) << mine.error().message;
  EXPECT_EQ(sorted_ids(*mine), (std::vector<std::string>{"a1", "a2"}));
  for (const auto& t : *mine) {
    EXPECT_EQ(t.state, TaskState::running);
    EXPECT_EQ(t.lease_holder, "h1");
    EXPECT_EQ(t.lease_until, kT0 + 30s);
  }
  // Another holder gets only what nobody holds; the parked task comes back as stored.
  auto theirs = s->claim_tasks({"a1", "a2", "a3", "a6"}, "h2", kT0 + 1s, kT0 + 31s);
  ASSERT_TRUE(theirs) << theirs.error().message;
  EXPECT_EQ(sorted_ids(*theirs), (std::vector<std::string>{"a3", "a6"}));
  for (const auto& t : *theirs) {
    if (t.id == "a6") {
      EXPECT_EQ(t.attempts, 2);
    }
  }
  EXPECT_EQ(s->get_task("a1").value()->lease_holder, "h1");
  EXPECT_EQ(s->get_task("a3").value()->lease_holder, "h2");
  EXPECT_EQ(s->get_task("a4").value()->state, TaskState::succeeded);
  EXPECT_EQ(s->get_task("a4").value()->lease_holder, "");
  // A holder claiming its own task again extends it.
  auto again = s->claim_tasks({"a1"}, "h1", kT0 + 2s, kT0 + 40s);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(s->get_task("a1").value()->lease_until, kT0 + 40s);
  EXPECT_TRUE(s->claim_tasks({}, "h1", kT0, kT0 + 1s).value().empty());
}

TYPED_TEST(StateStoreTest, AnExpiredLeaseGoesToTheNextClaimant) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_EQ(s->add_tasks({task("a1", "a", 1)}).value(), 1);
  ASSERT_EQ(s->claim_tasks({"a1"}, "h1", kT0, kT0 + 10s).value().size(), 1u);
  EXPECT_TRUE(s->claim_tasks({"a1"}, "h2", kT0 + 10s - 1us, kT0 + 20s).value().empty());
  auto taken = s->claim_tasks({"a1"}, "h2", kT0 + 10s, kT0 + 20s);
  ASSERT_TRUE(taken);
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].lease_holder, "h2");
  EXPECT_EQ((*taken)[0].lease_until, kT0 + 20s);
  // The old holder's renewal no longer reaches it.
  EXPECT_EQ(s->renew_leases("h1", kT0 + 99s).value(), 0);
  EXPECT_EQ(s->get_task("a1").value()->lease_until, kT0 + 20s);
}

TYPED_TEST(StateStoreTest, RenewMovesEveryLeaseOfTheHolderOnly) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_TRUE(s->put_plan(plan("b")));
  ASSERT_EQ(s->add_tasks({task("a1", "a", 1), task("a2", "a", 2), task("b1", "b", 1)}).value(), 3);
  ASSERT_EQ(s->claim_tasks({"a1", "b1"}, "h1", kT0, kT0 + 30s).value().size(), 2u);
  ASSERT_EQ(s->claim_tasks({"a2"}, "h2", kT0, kT0 + 30s).value().size(), 1u);
  ASSERT_FALSE(s->claim_plan_writer("a", "h1", kT0, kT0 + 30s).value().has_value());
  EXPECT_EQ(s->renew_leases("h1", kT0 + 100s).value(), 2);
  EXPECT_EQ(s->get_task("a1").value()->lease_until, kT0 + 100s);
  EXPECT_EQ(s->get_task("b1").value()->lease_until, kT0 + 100s);
  EXPECT_EQ(s->get_task("a2").value()->lease_until, kT0 + 30s);
  // The writer lease moved with them: h2 is still refused after the first expiry.
  auto held = s->claim_plan_writer("a", "h2", kT0 + 50s, kT0 + 80s);
  ASSERT_TRUE(held) << held.error().message;
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->holder, "h1");
  EXPECT_EQ((*held)->until, kT0 + 100s);
}

TYPED_TEST(StateStoreTest, UpdateTaskKeepsTheLeaseWhileRunningAndEndsItAfter) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_EQ(s->add_tasks({task("a1", "a", 1)}).value(), 1);
  Task t = s->claim_tasks({"a1"}, "h1", kT0, kT0 + 30s).value().at(0);
  t.attempts = 1;
  t.rows = 2;
  t.page_cursor = "offset=2";
  ASSERT_TRUE(s->update_task(t));
  Task got = s->get_task("a1").value().value();
  EXPECT_EQ(got.lease_holder, "h1");
  EXPECT_EQ(got.lease_until, kT0 + 30s);
  EXPECT_EQ(got.page_cursor, "offset=2");
  t.state = TaskState::succeeded;
  ASSERT_TRUE(s->update_task(t));
  got = s->get_task("a1").value().value();
  EXPECT_EQ(got.lease_holder, "");
  EXPECT_EQ(got.lease_until, std::nullopt);
  EXPECT_TRUE(s->claim_tasks({"a1"}, "h2", kT0, kT0 + 30s).value().empty());
}

TYPED_TEST(StateStoreTest, ExpireLeasesReturnsOnlyTasksWithoutALiveLeaseToPending) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_TRUE(s->put_plan(plan("b")));
  std::vector<Task> tasks = {task("a1", "a", 1), task("a2", "a", 2), task("a3", "a", 3),
                             task("a4", "a", 4), task("b1", "b", 1)};
  // a1 and b1 were left running without a lease (a store of version 3).
  const TaskState states[] = {TaskState::running, TaskState::pending, TaskState::succeeded,
                              TaskState::failed, TaskState::running};
  for (size_t i = 0; i < tasks.size(); ++i) tasks[i].state = states[i];
  ASSERT_EQ(s->add_tasks(tasks).value(), 5);
  ASSERT_EQ(s->claim_tasks({"a2"}, "h1", kT0, kT0 + 30s).value().size(), 1u);

  auto n = s->expire_leases("a", kT0 + 10s);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
  auto a = s->list_tasks("a").value();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].state, TaskState::pending);
  EXPECT_EQ(a[1].state, TaskState::running);  // its holder is alive
  EXPECT_EQ(a[1].lease_holder, "h1");
  EXPECT_EQ(a[2].state, TaskState::succeeded);
  EXPECT_EQ(a[3].state, TaskState::failed);
  EXPECT_EQ(s->get_task("b1").value()->state, TaskState::running);

  EXPECT_EQ(s->expire_leases("a", kT0 + 30s).value(), 1);
  Task a2 = s->get_task("a2").value().value();
  EXPECT_EQ(a2.state, TaskState::pending);
  EXPECT_EQ(a2.lease_holder, "");
  EXPECT_EQ(a2.lease_until, std::nullopt);
  EXPECT_EQ(s->expire_leases("a", kT0 + 30s).value(), 0);
}

TYPED_TEST(StateStoreTest, ReleaseLeasesEndsTheHolderTasksAndWriterLeases) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_EQ(s->add_tasks({task("a1", "a", 1), task("a2", "a", 2)}).value(), 2);
  ASSERT_EQ(s->claim_tasks({"a1"}, "h1", kT0, kT0 + 30s).value().size(), 1u);
  ASSERT_EQ(s->claim_tasks({"a2"}, "h2", kT0, kT0 + 30s).value().size(), 1u);
  ASSERT_FALSE(s->claim_plan_writer("a", "h1", kT0, kT0 + 30s).value().has_value());
  ASSERT_TRUE(s->release_leases("h1"));
  Task a1 = s->get_task("a1").value().value();
  EXPECT_EQ(a1.state, TaskState::pending);
  EXPECT_EQ(a1.lease_holder, "");
  EXPECT_EQ(s->get_task("a2").value()->lease_holder, "h2");
  EXPECT_FALSE(s->claim_plan_writer("a", "h2", kT0 + 1s, kT0 + 31s).value().has_value());
}

TYPED_TEST(StateStoreTest, PlanWriterLeaseHasOneHolderUntilItExpires) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("a")));
  ASSERT_FALSE(s->claim_plan_writer("a", "h1", kT0, kT0 + 10s).value().has_value());
  auto held = s->claim_plan_writer("a", "h2", kT0 + 1s, kT0 + 11s);
  ASSERT_TRUE(held) << held.error().message;
  ASSERT_TRUE(held->has_value());
  EXPECT_EQ((*held)->holder, "h1");
  EXPECT_EQ((*held)->until, kT0 + 10s);
  EXPECT_FALSE(s->claim_plan_writer("a", "h1", kT0 + 2s, kT0 + 12s).value().has_value());
  EXPECT_TRUE(s->claim_plan_writer("a", "h2", kT0 + 11s, kT0 + 21s).value().has_value());
  EXPECT_FALSE(s->claim_plan_writer("a", "h2", kT0 + 12s, kT0 + 22s).value().has_value());
  auto none = s->claim_plan_writer("zz", "h1", kT0, kT0 + 10s);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::not_found);
}

// Two workers claiming the same tasks at once, each on its own connection: every task goes to
// exactly one of them.
TYPED_TEST(StateStoreTest, ConcurrentClaimsNeverHandATaskToTwoHolders) {
  auto setup = this->open();
  ASSERT_TRUE(setup);
  ASSERT_TRUE(setup->put_plan(plan("p")));
  std::vector<Task> tasks;
  for (int i = 0; i < 300; ++i) tasks.push_back(task("t" + std::to_string(1000 + i), "p", i));
  ASSERT_EQ(setup->add_tasks(tasks).value(), 300);
  const std::vector<std::string> all = ids(tasks);
  std::vector<std::string> got[2];
  std::atomic<int> errors{0};
  auto claimer = [&](int k) {
    auto s = this->open();
    if (!s) {
      ++errors;
      return;
    }
    const std::string holder = "h" + std::to_string(k);
    for (size_t i = 0; i < all.size(); i += 4) {
      std::vector<std::string> chunk(all.begin() + long(i),
                                     all.begin() + long(std::min(all.size(), i + 4)));
      auto r = s->claim_tasks(chunk, holder, kT0, kT0 + 60s);
      if (!r) {
        ++errors;
        continue;
      }
      for (const auto& t : *r) got[k].push_back(t.id);
    }
  };
  std::thread a(claimer, 0), b(claimer, 1);
  a.join();
  b.join();
  EXPECT_EQ(errors.load(), 0);
  std::vector<std::string> both = got[0];
  both.insert(both.end(), got[1].begin(), got[1].end());
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, all);  // each task once: none lost, none twice
  for (int k = 0; k < 2; ++k)
    for (const auto& id : got[k])
      EXPECT_EQ(setup->get_task(id).value()->lease_holder, "h" + std::to_string(k));
}

RunRecord run(const std::string& id, const std::string& plan_name, TimePoint started) {
  RunRecord r;
  r.id = id;
  r.plan = plan_name;
  r.started_at = started;
  return r;
}

TYPED_TEST(StateStoreTest, RunsPutGetAndUpdate) {
  auto s = this->open();
  ASSERT_TRUE(s);
  RunRecord r = run("r1", "daily", kT0);
  ASSERT_TRUE(s->put_run(r));
  auto got = s->get_run("r1");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->kind, "backfill");
  EXPECT_EQ((*got)->status, "running");
  EXPECT_EQ((*got)->started_at, kT0);
  EXPECT_EQ((*got)->finished_at, std::nullopt);
  EXPECT_EQ((*got)->tasks_total, 0);

  r.kind = "incremental";
  r.status = "failed";
  r.finished_at = kT0 + 90min;
  r.tasks_total = 11;
  r.tasks_succeeded = 5;
  r.tasks_failed = 2;
  r.tasks_dead = 1;
  r.tasks_skipped = 3;
  r.tasks_split = 4;
  r.rows = 1000001;
  r.bytes = 3000000002;
  r.requests = 77;
  r.retries = 6;
  r.rate_limited = 9;
  r.error = "auth: token rejected";
  ASSERT_TRUE(s->put_run(r));
  got = s->get_run("r1");
  ASSERT_TRUE(got && got->has_value());
  const RunRecord& g = **got;
  EXPECT_EQ(g.id, "r1");
  EXPECT_EQ(g.plan, "daily");
  EXPECT_EQ(g.kind, "incremental");
  EXPECT_EQ(g.status, "failed");
  EXPECT_EQ(g.started_at, kT0);
  EXPECT_EQ(g.finished_at, kT0 + 90min);
  EXPECT_EQ(g.tasks_total, 11);
  EXPECT_EQ(g.tasks_succeeded, 5);
  EXPECT_EQ(g.tasks_failed, 2);
  EXPECT_EQ(g.tasks_dead, 1);
  EXPECT_EQ(g.tasks_skipped, 3);
  EXPECT_EQ(g.tasks_split, 4);
  EXPECT_EQ(g.rows, 1000001);
  EXPECT_EQ(g.bytes, 3000000002);
  EXPECT_EQ(g.requests, 77);
  EXPECT_EQ(g.retries, 6);
  EXPECT_EQ(g.rate_limited, 9);
  EXPECT_EQ(g.error, "auth: token rejected");
  EXPECT_FALSE(s->get_run("r2").value().has_value());
}

TYPED_TEST(StateStoreTest, ListRunsNewestFirstFilteredAndLimited) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_run(run("r-old", "daily", kT0)));
  ASSERT_TRUE(s->put_run(run("r-new", "daily", kT0 + 48h)));
  ASSERT_TRUE(s->put_run(run("r-mid", "minute", kT0 + 24h)));
  ASSERT_TRUE(s->put_run(run("r-mid2", "daily", kT0 + 24h + 1us)));

  auto names = [](const std::vector<RunRecord>& runs) {
    std::vector<std::string> out;
    for (const auto& r : runs) out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(names(s->list_runs("", 10).value()),
            (std::vector<std::string>{"r-new", "r-mid2", "r-mid", "r-old"}));
  EXPECT_EQ(names(s->list_runs("", 2).value()), (std::vector<std::string>{"r-new", "r-mid2"}));
  EXPECT_EQ(names(s->list_runs("daily", 10).value()),
            (std::vector<std::string>{"r-new", "r-mid2", "r-old"}));
  EXPECT_EQ(names(s->list_runs("daily", 1).value()), std::vector<std::string>{"r-new"});
  EXPECT_EQ(names(s->list_runs("minute", 5).value()), std::vector<std::string>{"r-mid"});
  EXPECT_EQ(s->list_runs("", 0).value().size(), 4u);  // limit <= 0: all
  EXPECT_TRUE(s->list_runs("none", 5).value().empty());
}

TYPED_TEST(StateStoreTest, StateSurvivesReopen) {
  {
    auto s = this->open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_plan(plan("p")));
    ASSERT_EQ(s->add_tasks({task("t1", "p", 1)}).value(), 1);
    ASSERT_TRUE(s->put_run(run("r1", "p", kT0)));
  }
  auto s = this->open();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->schema_version(), 5);
  EXPECT_EQ(s->get_plan("p").value()->fingerprint, "fp-p");
  EXPECT_EQ(ids(s->list_tasks("p").value()), std::vector<std::string>{"t1"});
  EXPECT_EQ(s->get_run("r1").value()->started_at, kT0);
}

// `finsync status` reads while `finsync run` writes: two handles on the same file.
TYPED_TEST(StateStoreTest, TwoHandlesOnTheSameFileBothWork) {
  auto run_side = this->open();
  auto status_side = this->open();
  ASSERT_TRUE(run_side && status_side);
  ASSERT_TRUE(run_side->put_plan(plan("p")));
  std::vector<Task> tasks;
  for (int i = 0; i < 200; ++i) tasks.push_back(task("t" + std::to_string(1000 + i), "p", i));
  ASSERT_EQ(run_side->add_tasks(tasks).value(), 200);
  EXPECT_EQ(status_side->list_tasks("p").value().size(), 200u);
  ASSERT_TRUE(status_side->put_run(run("r1", "p", kT0)));
  EXPECT_EQ(run_side->get_run("r1").value()->plan, "p");

  // Concurrently: the run updates every task while status reads and another writer writes runs.
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (auto t : tasks) {
      t.state = TaskState::succeeded;
      t.rows = 10;
      if (!run_side->update_task(t)) ++errors;
    }
  });
  int reads = 0;
  int64_t last_seen = 0;
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      auto all = status_side->list_tasks("p");
      if (!all || all->size() != 200u) {
        ++errors;
        continue;
      }
      int64_t done = 0;
      for (const auto& t : *all) done += t.state == TaskState::succeeded ? 1 : 0;
      if (done < last_seen) ++errors;  // committed progress never goes backwards
      last_seen = done;
      RunRecord r = run("r1", "p", kT0);
      r.tasks_succeeded = done;
      if (!status_side->put_run(r)) ++errors;
      ++reads;
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(reads, 50);
  auto all = status_side->list_tasks("p").value();
  int64_t rows = 0;
  for (const auto& t : all) {
    EXPECT_EQ(t.state, TaskState::succeeded);
    rows += t.rows;
  }
  EXPECT_EQ(rows, 2000);
}

TEST_F(SqliteStateStoreTest, GarbageFileIsRejectedWithItsPath) {
  const std::string p = path("notes.txt");
  {
    std::ofstream out(p);
    for (int i = 0; i < 100; ++i) out << "this is a text file, not a database " << i << "\n";
  }
  auto s = open_sqlite_state(p);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message,
            "state store " + p + " is not a SQLite database (file is not a database)");
}

TEST_F(SqliteStateStoreTest, ForeignSqliteDatabaseIsRejected) {
  const std::string p = path("other.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE contacts(name TEXT)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open_sqlite_state(p);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message, "state store " + p +
                                   " is a SQLite database but not a finsync state store (it has "
                                   "no schema_version table)");
}

TEST_F(SqliteStateStoreTest, DirectoryInPlaceOfTheFileIsAnError) {
  fs::create_directories(dir_ / "state.db");
  auto s = open_sqlite_state(path());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(s.error().message.find("state store " + path()), std::string::npos)
      << s.error().message;
}

// Throughput, for docs/state.md: run with --gtest_also_run_disabled_tests on a release build.
TYPED_TEST(StateStoreTest, DISABLED_Throughput) {
  auto s = this->open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_plan(plan("p")));
  std::vector<Task> tasks;
  for (int i = 0; i < 100000; ++i) {
    Task t = task("daily/" + std::to_string(100000 + i) + ".SZ/2024", "p", 19723 + i % 365);
    tasks.push_back(std::move(t));
  }
  const auto c0 = std::clock();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(s->add_tasks(tasks).value(), 100000);
  auto t1 = std::chrono::steady_clock::now();
  const auto c1 = std::clock();
  for (int i = 0; i < 10000; ++i) {
    Task& t = tasks[static_cast<size_t>(i) * 7];
    t.state = TaskState::succeeded;
    t.rows = i;
    t.duration_ms = 12;
    t.requests = 1;
    ASSERT_TRUE(s->update_task(t));
  }
  auto t2 = std::chrono::steady_clock::now();
  const auto c2 = std::clock();
  auto listed = s->list_tasks("p");
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_EQ(listed.value().size(), 100000u);
  const double add_s = std::chrono::duration<double>(t1 - t0).count();
  const double upd_s = std::chrono::duration<double>(t2 - t1).count();
  const double list_s = std::chrono::duration<double>(t3 - t2).count();
  const auto cpu = [](std::clock_t a, std::clock_t b) {
    return static_cast<double>(b - a) / CLOCKS_PER_SEC;
  };
  std::printf("add_tasks 100000: %.3f s (cpu %.3f s), %.0f tasks/s\n", add_s, cpu(c0, c1),
              100000 / add_s);
  std::printf("update_task 10000: %.3f s (cpu %.3f s), %.0f updates/s\n", upd_s, cpu(c1, c2),
              10000 / upd_s);
  std::printf("list_tasks 100000: %.3f s\n", list_s);
}

}  // namespace
}  // namespace finsync::state
