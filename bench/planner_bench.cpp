// Planner and state store at scale: 1,000,000 tasks planned (5,000 symbols x 200 monthly
// windows) and persisted in chunks as a run does it (plan_and_persist) through the SQLite state
// store (WAL, synchronous=NORMAL, as finsync opens it), then read back as a resume does; then task
// state transitions (pending -> running -> succeeded), one transaction each (update_task) and in
// batches (update_tasks). Each figure against a bare prepared-statement loop doing the same inserts
// and updates on a file with the same schema and pragmas, in the same run. Usage: planner_bench DIR
// [TASK_SYMBOLS] [TRANSITION_TASKS] [BATCH]
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/dates.hpp"
#include "engine/planning.hpp"
#include "plan/planner.hpp"
#include "state/state_store.hpp"

using namespace finsync;
using state::Task;
using state::TaskState;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds of this process: on a machine shared with other work the wall clock measures the
// share of the cores the process got as much as its work.
double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "planner_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T must(Result<T> r, const char* what) {
  if (!r) die(std::string(what) + ": " + r.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// The bare baseline: raw SQLite, the statements the store runs, prepared once.
class Bare {
 public:
  explicit Bare(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) die("open " + path);
    exec("PRAGMA journal_mode = WAL");
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
    insert_ = prepare(
        "INSERT OR IGNORE INTO tasks(id, plan, params_json, start_day, end_day, state, attempts, "
        "rows, bytes, duration_ms, requests, last_error, resume_at, parent, run_id, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    update_ = prepare(
        "UPDATE tasks SET state = ?2, attempts = ?3, rows = ?4, bytes = ?5, duration_ms = ?6, "
        "requests = ?7, last_error = ?8, resume_at = ?9, run_id = ?10, updated_at = ?11 "
        "WHERE id = ?1");
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
  }
  ~Bare() {
    for (sqlite3_stmt* s : {insert_, update_, begin_, commit_}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  void begin() { step(begin_); }
  void commit() { step(commit_); }

  void insert(const Task& t, int64_t now) {
    text(insert_, 1, t.id);
    text(insert_, 2, t.plan);
    text(insert_, 3, t.params_json);
    sqlite3_bind_int64(insert_, 4, t.start_day);
    sqlite3_bind_int64(insert_, 5, t.end_day);
    text(insert_, 6, std::string(state::to_string(t.state)));
    sqlite3_bind_int64(insert_, 7, t.attempts);
    sqlite3_bind_int64(insert_, 8, t.rows);
    sqlite3_bind_int64(insert_, 9, t.bytes);
    sqlite3_bind_int64(insert_, 10, t.duration_ms);
    sqlite3_bind_int64(insert_, 11, t.requests);
    text(insert_, 12, t.last_error);
    sqlite3_bind_null(insert_, 13);
    text(insert_, 14, t.parent);
    text(insert_, 15, t.run_id);
    sqlite3_bind_int64(insert_, 16, now);
    step(insert_);
  }

  void update(const Task& t, int64_t now) {
    text(update_, 1, t.id);
    text(update_, 2, std::string(state::to_string(t.state)));
    sqlite3_bind_int64(update_, 3, t.attempts);
    sqlite3_bind_int64(update_, 4, t.rows);
    sqlite3_bind_int64(update_, 5, t.bytes);
    sqlite3_bind_int64(update_, 6, t.duration_ms);
    sqlite3_bind_int64(update_, 7, t.requests);
    text(update_, 8, t.last_error);
    sqlite3_bind_null(update_, 9);
    text(update_, 10, t.run_id);
    sqlite3_bind_int64(update_, 11, now);
    step(update_);
    if (sqlite3_changes(db_) != 1) die("bare update found no task " + t.id);
  }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(sqlite3_errmsg(db_));
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) die(sqlite3_errmsg(db_));
    return s;
  }
  static void text(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
  }
  void step(sqlite3_stmt* s) {
    if (sqlite3_step(s) != SQLITE_DONE) die(sqlite3_errmsg(db_));
    sqlite3_reset(s);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
};

// The two transitions of a task that runs and lands.
void to_running(Task& t) {
  t.state = TaskState::running;
  t.attempts = 1;
  t.run_id = "bench@1";
}
void to_succeeded(Task& t, int64_t i) {
  t.state = TaskState::succeeded;
  t.rows = 20 + i % 3;
  t.bytes = 2400;
  t.duration_ms = 35;
  t.requests = 1;
}

void ratio_line(const char* what, double ours_per_s, double bare_per_s) {
  std::printf("%-44s finsync %10.0f/s  bare %10.0f/s  ratio %5.1f%%\n", what, ours_per_s,
              bare_per_s, 100.0 * ours_per_s / bare_per_s);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: planner_bench DIR [SYMBOLS] [TRANSITION_TASKS] [BATCH]");
  const std::filesystem::path dir = argv[1];
  const int symbols = argc > 2 ? std::atoi(argv[2]) : 5000;
  const size_t transition_tasks = argc > 3 ? size_t(std::atoll(argv[3])) : 100000;
  const size_t batch = argc > 4 ? size_t(std::atoll(argv[4])) : 64;
  std::filesystem::create_directories(dir);
  const std::string ours_path = (dir / "planner_bench_finsync.db").string();
  const std::string bare_path = (dir / "planner_bench_bare.db").string();
  for (const auto& p : {ours_path, bare_path})
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);

  // 1. Plan: 200 monthly windows, 2008-05 to 2024-12, of every symbol (weekday calendar).
  plan::TradingCalendar calendar;
  plan::PlanInput in;
  in.plan = "bench";
  in.symbol_param = "ts_code";
  for (int i = 0; i < symbols; ++i)
    in.symbols.push_back(plan::Symbol{std::to_string(100000 + i) + ".SZ", {}, {}, "L", 0});
  in.start_day = *dates::parse_iso("2008-05-01");
  in.end_day = *dates::parse_iso("2024-12-31");
  in.max_rows = 6000;
  in.window = "1m";
  in.calendar = &calendar;
  // Planning alone: the strategy priced and the tasks cut, none kept.
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_s();
  size_t n = 0;
  plan::choose_plan(in, {}, [&n](Task&&) { ++n; });
  const double plan_s = seconds_since(t0), plan_cpu = cpu_s() - c0;

  // 2. Planned and persisted as a run does it (chunks of tasks as they are cut), then read
  // back as a run's resume does.
  auto store = must(state::open_sqlite_state(ours_path), "open the state store");
  state::PlanRecord rec;
  rec.name = "bench";
  rec.spec_yaml = "name: bench\n";
  rec.fingerprint = "bench";
  must(store->put_plan(rec), "put_plan");
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  plan::PlanChoice choice;
  const int64_t added = must(engine::plan_and_persist(*store, in, {}, choice), "plan_and_persist");
  const double total_s = seconds_since(t0), total_cpu = cpu_s() - c0;
  if (size_t(added) != n) die("plan_and_persist added " + std::to_string(added));
  const double persist_rss = peak_rss_mib();
  t0 = std::chrono::steady_clock::now();
  std::vector<Task> tasks = must(store->list_tasks("bench"), "list_tasks");
  const double list_s = seconds_since(t0);
  if (tasks.size() != n) die("list_tasks listed " + std::to_string(tasks.size()));
  const double list_rss = peak_rss_mib();
  // The transitions below use the first tasks only.
  const size_t m = std::min(transition_tasks, n / 2);
  tasks.resize(2 * m);
  tasks.shrink_to_fit();

  // The same inserts, bare, fed by the same planning, into a file the store created (same
  // schema and indexes), in one transaction.
  {
    auto schema = must(state::open_sqlite_state(bare_path), "create the baseline's schema");
    must(schema->put_plan(rec), "baseline put_plan");
  }
  Bare bare(bare_path);
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  bare.begin();
  plan::choose_plan(in, {}, [&bare](Task&& t) { bare.insert(t, 1); });
  bare.commit();
  const double bare_total_s = seconds_since(t0), bare_total_cpu = cpu_s() - c0;
  const double persist_s = total_s - plan_s, persist_cpu = total_cpu - plan_cpu;
  const double bare_persist_s = bare_total_s - plan_s, bare_persist_cpu = bare_total_cpu - plan_cpu;

  std::printf("tasks planned: %zu (%d symbols, monthly windows)\n", n, symbols);
  std::printf("plan alone %.2f s (cpu %.2f)\n", plan_s, plan_cpu);
  std::printf(
      "planned and persisted (plan_and_persist) %.2f s (cpu %.2f); bare %.2f s (cpu %.2f)\n",
      total_s, total_cpu, bare_total_s, bare_total_cpu);
  std::printf("list_tasks (resume) %.2f s\n", list_s);
  ratio_line("planned and persisted", double(n) / total_s, double(n) / bare_total_s);
  ratio_line("inserts (less planning)", double(n) / persist_s, double(n) / bare_persist_s);
  ratio_line("inserts, per CPU second", double(n) / persist_cpu, double(n) / bare_persist_cpu);
  std::printf("peak RSS: %.1f MiB after planning and persisting, %.1f MiB after list_tasks\n",
              persist_rss, list_rss);

  // 3. Transitions: pending -> running -> succeeded, two per task.
  const double transitions = 2.0 * double(m);
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  for (size_t i = 0; i < m; ++i) {
    Task& t = tasks[i];
    to_running(t);
    must(store->update_task(t), "update_task");
    to_succeeded(t, int64_t(i));
    must(store->update_task(t), "update_task");
  }
  const double ours_each_s = seconds_since(t0), ours_each_cpu = cpu_s() - c0;
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  for (size_t i = 0; i < m; ++i) {
    Task t = tasks[i];
    to_running(t);
    bare.begin();
    bare.update(t, 2);
    bare.commit();
    to_succeeded(t, int64_t(i));
    bare.begin();
    bare.update(t, 3);
    bare.commit();
  }
  const double bare_each_s = seconds_since(t0), bare_each_cpu = cpu_s() - c0;
  ratio_line("transitions, one transaction each", transitions / ours_each_s,
             transitions / bare_each_s);
  ratio_line("  per CPU second", transitions / ours_each_cpu, transitions / bare_each_cpu);

  // Batched: a group of tasks starts, then the group lands (the engine's group commit).
  std::vector<Task> group;
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  for (size_t i = m; i < 2 * m; i += batch) {
    const size_t end = std::min(2 * m, i + batch);
    group.assign(tasks.begin() + long(i), tasks.begin() + long(end));
    for (Task& t : group) to_running(t);
    must(store->update_tasks(group), "update_tasks");
    for (size_t k = 0; k < group.size(); ++k) to_succeeded(group[k], int64_t(i + k));
    must(store->update_tasks(group), "update_tasks");
  }
  const double ours_batch_s = seconds_since(t0), ours_batch_cpu = cpu_s() - c0;
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_s();
  for (size_t i = m; i < 2 * m; i += batch) {
    const size_t end = std::min(2 * m, i + batch);
    group.assign(tasks.begin() + long(i), tasks.begin() + long(end));
    bare.begin();
    for (Task& t : group) {
      to_running(t);
      bare.update(t, 2);
    }
    bare.commit();
    bare.begin();
    for (size_t k = 0; k < group.size(); ++k) {
      to_succeeded(group[k], int64_t(i + k));
      bare.update(group[k], 3);
    }
    bare.commit();
  }
  const double bare_batch_s = seconds_since(t0), bare_batch_cpu = cpu_s() - c0;
  const std::string label = "transitions, batches of " + std::to_string(batch) + " (update_tasks)";
  ratio_line(label.c_str(), transitions / ours_batch_s, transitions / bare_batch_s);
  ratio_line("  per CPU second", transitions / ours_batch_cpu, transitions / bare_batch_cpu);
  std::printf("transitions measured: %.0f each way; peak RSS %.1f MiB\n", transitions,
              peak_rss_mib());
  return 0;
}
