// SQLite state store: one connection per store, WAL so that `finsync status` can read while
// `finsync run` writes, short BEGIN IMMEDIATE write transactions, statements prepared once.
#include <array>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/failpoint.hpp"
#include "state/micros.hpp"
#include "state/sqlite_db.hpp"
#include "state/sqlite_ledger.hpp"
#include "state/sqlite_store_internal.hpp"
#include "state/state_store.hpp"

namespace finsync::state {

namespace detail {
namespace {

// Version 1 is the schema of the first release. Never edit a released step; append one.
constexpr std::array<Migration, 5> kMigrations{{
    {1, "initial schema: plans, tasks, runs",
     R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
CREATE TABLE plans(
  name TEXT PRIMARY KEY,
  spec_yaml TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  universe_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE tasks(
  id TEXT PRIMARY KEY,
  plan TEXT NOT NULL REFERENCES plans(name),
  params_json TEXT NOT NULL,
  start_day INTEGER NOT NULL,
  end_day INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  resume_at INTEGER,
  parent TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL
);
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  plan TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  tasks_total INTEGER NOT NULL DEFAULT 0,
  tasks_succeeded INTEGER NOT NULL DEFAULT 0,
  tasks_failed INTEGER NOT NULL DEFAULT 0,
  tasks_dead INTEGER NOT NULL DEFAULT 0,
  tasks_skipped INTEGER NOT NULL DEFAULT 0,
  tasks_split INTEGER NOT NULL DEFAULT 0,
  rows INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  retries INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''
);
)sql"},
    {2, "request and rate-limit counters; tasks(plan, state) and runs(plan, started_at) indexes",
     R"sql(
ALTER TABLE tasks ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_plan_state ON tasks(plan, state);
CREATE INDEX runs_plan_started ON runs(plan, started_at);
)sql"},
    {3, "quota ledger: request slots, aligned-window counters, rate-limit blocks; plan control",
     R"sql(
ALTER TABLE plans ADD COLUMN control TEXT NOT NULL DEFAULT '';
CREATE TABLE quota_slots(
  id INTEGER PRIMARY KEY,
  provider TEXT NOT NULL,
  account TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  weight INTEGER NOT NULL,
  sent_at INTEGER NOT NULL,
  done_at INTEGER,
  stale_at INTEGER NOT NULL
);
CREATE INDEX quota_slots_provider ON quota_slots(provider);
CREATE TABLE quota_counters(
  provider TEXT NOT NULL,
  window_name TEXT NOT NULL,
  period_start INTEGER NOT NULL,
  used INTEGER NOT NULL,
  PRIMARY KEY(provider, window_name)
);
CREATE TABLE quota_blocks(
  provider TEXT NOT NULL,
  account TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  until_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY(provider, account, endpoint)
);
)sql"},
    {4, "high-water marks: the last day landed after its publication, per parameter set",
     R"sql(
CREATE TABLE marks(
  plan TEXT NOT NULL,
  param_set TEXT NOT NULL,
  day INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(plan, param_set)
);
)sql"},
    {5, "task leases, plan writer leases, page checkpoints",
     R"sql(
ALTER TABLE tasks ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN lease_until INTEGER;
ALTER TABLE tasks ADD COLUMN page_cursor TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN writer_until INTEGER;
CREATE INDEX tasks_lease_holder ON tasks(lease_holder) WHERE lease_holder <> '';
)sql"},
}};

}  // namespace

std::span<const Migration> sqlite_migrations() {
  return kMigrations;
}
int sqlite_schema_version_latest() {
  return kMigrations.back().version;
}

}  // namespace detail

namespace {

using sqlite::Db;
using sqlite::Query;
using sqlite::Transaction;

// How long a statement waits for another connection's lock before giving up.
constexpr std::chrono::milliseconds kBusyTimeout{10000};

std::string label_for(const std::string& path) {
  return "state store " + path;
}

// ---- opening and migrating

// Version of the open database: 0 for an empty file. Rejects a database that is not ours.
Result<int> read_version(Db& db) {
  bool has_table = false;
  int64_t objects = 0;
  {
    auto q = db.query(
        "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
        "'schema_version'), (SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%')",
        "read schema version");
    if (!q) return tl::unexpected(q.error());
    if (auto row = q->step(); !row) return tl::unexpected(row.error());
    has_table = q->int64(0) > 0;
    objects = q->int64(1);
  }
  if (!has_table) {
    if (objects == 0) return 0;
    return fail(ErrorKind::invalid_input, db.label() +
                                              " is a SQLite database but not a finsync state store "
                                              "(it has no schema_version table)");
  }
  auto q = db.query("SELECT count(*), max(version) FROM schema_version", "read schema version");
  if (!q) return tl::unexpected(q.error());
  if (auto row = q->step(); !row) return tl::unexpected(row.error());
  if (q->int64(0) != 1) {
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: schema_version must hold exactly one row, found {}", db.label(),
                            q->int64(0)));
  }
  return static_cast<int>(q->int64(1));
}

Error newer_schema(const Db& db, int version) {
  return Error{ErrorKind::invalid_input,
               fmt::format("{} has schema version {}; this finsync knows up to {}: upgrade finsync",
                           db.label(), version, detail::sqlite_schema_version_latest()),
               std::nullopt};
}

Result<void> set_version(Db& db, int version) {
  auto u = db.query("UPDATE schema_version SET version = ?1", "migrate");
  if (!u) return tl::unexpected(u.error());
  if (auto r = u->bind(1, int64_t{version}).run(); !r) return r;
  if (db.changes() > 0) return {};
  auto i = db.query("INSERT INTO schema_version(version) VALUES (?1)", "migrate");
  if (!i) return tl::unexpected(i.error());
  return i->bind(1, int64_t{version}).run();
}

// Applies every step above the file's version up to `target`, each in its own transaction
// together with its version bump. The version is re-read inside the transaction: another
// process opening the same file at the same moment may have applied the step already.
Result<int> migrate(Db& db, int target) {
  auto current = read_version(db);
  if (!current) return current;
  if (*current > detail::sqlite_schema_version_latest()) {
    return tl::unexpected(newer_schema(db, *current));
  }
  const bool fresh = *current == 0;
  for (const auto& m : detail::sqlite_migrations()) {
    if (m.version <= *current) continue;
    if (m.version > target) break;
    auto tx = Transaction::begin(db, "migrate");
    if (!tx) return tl::unexpected(tx.error());
    auto v = read_version(db);
    if (!v) return v;
    if (*v > detail::sqlite_schema_version_latest()) return tl::unexpected(newer_schema(db, *v));
    if (*v < m.version) {
      if (*v != m.version - 1) {
        return fail(ErrorKind::internal, fmt::format("{}: cannot apply migration {} to version {}",
                                                     db.label(), m.version, *v));
      }
      // A new file goes through every step too; only an upgrade is worth an info line.
      spdlog::log(fresh ? spdlog::level::debug : spdlog::level::info,
                  "{}: migrating schema to version {}: {}", db.label(), m.version, m.summary);
      if (auto r = db.exec(m.sql, fmt::format("migration {}", m.version).c_str()); !r) {
        return tl::unexpected(r.error());
      }
      if (auto r = set_version(db, m.version); !r) return tl::unexpected(r.error());
      if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    }
    *current = m.version;
  }
  return read_version(db);
}

// Opens the file, sets the connection up and migrates it to `target`.
Result<Db> open_db(const std::string& path, int target) {
  const std::string label = label_for(path);
  if (path.empty()) return fail(ErrorKind::invalid_input, "state store path is empty");
  if (path != ":memory:") {
    const auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) {
      return fail(ErrorKind::invalid_input, fmt::format("{}: cannot create directory {}: {}", label,
                                                        dir.string(), ec.message()));
    }
  }
  auto db = Db::open(path, label);
  if (!db) return db;
  // busy_timeout first: switching to WAL may wait for another process that holds the file.
  const std::string busy = fmt::format("PRAGMA busy_timeout = {}", kBusyTimeout.count());
  if (auto r = db->exec(busy.c_str(), "set busy_timeout"); !r) {
    return tl::unexpected(r.error());
  }
  // The first statement that reads the file: a file that is not a database fails here.
  // Switching a new file to WAL needs an exclusive lock, and SQLite reports a conflict with
  // another connection doing the same (two processes creating the store at once) as busy
  // without calling the busy handler: retry within the busy_timeout budget.
  auto set_wal = [&]() -> Result<std::string> {
    auto jm = db->query("PRAGMA journal_mode = WAL", "set journal_mode");
    if (!jm) return tl::unexpected(jm.error());
    auto row = jm->step();
    if (!row) return tl::unexpected(row.error());
    return jm->text(0);
  };
  const auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
  auto mode = set_wal();
  while (!mode && sqlite::error_kind(sqlite3_errcode(db->get())) == ErrorKind::transient &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    mode = set_wal();
  }
  if (!mode) {
    if ((sqlite3_errcode(db->get()) & 0xff) == SQLITE_NOTADB) {
      return fail(ErrorKind::invalid_input,
                  label + " is not a SQLite database (file is not a database)");
    }
    return tl::unexpected(mode.error());
  }
  if (*mode != "wal" && path != ":memory:") {
    spdlog::warn("{}: journal_mode is {}, not wal: readers may block the writer", label, *mode);
  }
  if (auto r = db->exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "set pragmas");
      !r) {
    return tl::unexpected(r.error());
  }
  auto version = migrate(*db, target);
  if (!version) return tl::unexpected(version.error());
  return db;
}

// ---- rows

constexpr const char* kTaskColumns =
    "id, plan, params_json, start_day, end_day, state, attempts, rows, bytes, duration_ms, "
    "requests, last_error, resume_at, parent, run_id, lease_holder, lease_until, page_cursor";

Result<Task> read_task(const Db& db, const Query& q) {
  Task t;
  t.id = q.text(0);
  t.plan = q.text(1);
  t.params_json = q.text(2);
  t.start_day = static_cast<int32_t>(q.int64(3));
  t.end_day = static_cast<int32_t>(q.int64(4));
  const auto state = q.text(5);
  const auto parsed = parse_task_state(state);
  if (!parsed) {
    return fail(ErrorKind::internal,
                fmt::format("{}: task {} has unknown state '{}'", db.label(), t.id, state));
  }
  t.state = *parsed;
  t.attempts = static_cast<int>(q.int64(6));
  t.rows = q.int64(7);
  t.bytes = q.int64(8);
  t.duration_ms = q.int64(9);
  t.requests = q.int64(10);
  t.last_error = q.text(11);
  if (!q.is_null(12)) t.resume_at = from_micros(q.int64(12));
  t.parent = q.text(13);
  t.run_id = q.text(14);
  t.lease_holder = q.text(15);
  if (!q.is_null(16)) t.lease_until = from_micros(q.int64(16));
  t.page_cursor = q.text(17);
  return t;
}

constexpr const char* kRunColumns =
    "id, plan, kind, status, started_at, finished_at, tasks_total, tasks_succeeded, "
    "tasks_failed, tasks_dead, tasks_skipped, tasks_split, rows, bytes, requests, retries, "
    "rate_limited, error";

RunRecord read_run(const Query& q) {
  RunRecord r;
  r.id = q.text(0);
  r.plan = q.text(1);
  r.kind = q.text(2);
  r.status = q.text(3);
  r.started_at = from_micros(q.int64(4));
  if (!q.is_null(5)) r.finished_at = from_micros(q.int64(5));
  r.tasks_total = q.int64(6);
  r.tasks_succeeded = q.int64(7);
  r.tasks_failed = q.int64(8);
  r.tasks_dead = q.int64(9);
  r.tasks_skipped = q.int64(10);
  r.tasks_split = q.int64(11);
  r.rows = q.int64(12);
  r.bytes = q.int64(13);
  r.requests = q.int64(14);
  r.retries = q.int64(15);
  r.rate_limited = q.int64(16);
  r.error = q.text(17);
  return r;
}

PlanRecord read_plan(const Query& q) {
  PlanRecord p;
  p.name = q.text(0);
  p.spec_yaml = q.text(1);
  p.fingerprint = q.text(2);
  p.universe_json = q.text(3);
  p.created_at = from_micros(q.int64(4));
  p.updated_at = from_micros(q.int64(5));
  p.control = q.text(6);
  return p;
}

const std::string kSelectTask = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id = ?1";
const std::string kListTasks =
    std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE plan = ?1 ORDER BY id";
const std::string kSelectRun = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?1";
const std::string kListRuns =
    std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY started_at DESC, id DESC LIMIT ?1";
const std::string kListPlanRuns = std::string("SELECT ") + kRunColumns +
                                  " FROM runs WHERE plan = ?2 "
                                  "ORDER BY started_at DESC, id DESC LIMIT ?1";

// Tasks per INSERT: one statement run per 32 tasks takes ~25% less CPU than one per task (the
// VDBE setup and the reset are paid per run), and 512 parameters stay far below SQLite's limit.
constexpr size_t kInsertRows = 32;
const std::string kInsertTask = insert_tasks_sql(1, '?');
const std::string kInsertTasks = insert_tasks_sql(kInsertRows, '?');

// A task that leaves `running` leaves its lease too.
constexpr const char* kUpdateTask =
    "UPDATE tasks SET state = ?2, attempts = ?3, rows = ?4, bytes = ?5, duration_ms = ?6, "
    "requests = ?7, last_error = ?8, resume_at = ?9, run_id = ?10, updated_at = ?11, "
    "page_cursor = ?12, lease_holder = CASE WHEN ?2 = 'running' THEN lease_holder ELSE '' END, "
    "lease_until = CASE WHEN ?2 = 'running' THEN lease_until ELSE NULL END WHERE id = ?1";

// Free for `holder` at `now`: nobody's, expired, or its own.
constexpr const char* kClaimTask =
    "UPDATE tasks SET state = 'running', lease_holder = ?2, lease_until = ?4, updated_at = ?5 "
    "WHERE id = ?1 AND state IN ('pending', 'failed', 'parked', 'running') AND "
    "(lease_holder = '' OR lease_holder = ?2 OR lease_until IS NULL OR lease_until <= ?3)";

constexpr const char* kClaimWriter =
    "UPDATE plans SET writer = ?2, writer_until = ?4 WHERE name = ?1 AND "
    "(writer = '' OR writer = ?2 OR writer_until IS NULL OR writer_until <= ?3)";

class SqliteStateStore final : public StateStore {
 public:
  SqliteStateStore(Db db, int version, std::string path)
      : db_(std::move(db)), version_(version), path_(std::move(path)) {}

  Result<std::unique_ptr<ratelimit::LedgerStore>> open_ledger() override {
    // Its own connection, so quota decisions never queue behind a landing transaction.
    if (path_ == ":memory:") return ratelimit::make_memory_ledger();
    auto db = open_db(path_, version_);
    if (!db) return tl::unexpected(db.error());
    return make_sqlite_ledger(std::move(*db));
  }

  Result<std::optional<PlanRecord>> get_plan(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto q = db_.query(
        "SELECT name, spec_yaml, fingerprint, universe_json, created_at, updated_at, control FROM "
        "plans WHERE name = ?1",
        "get_plan");
    if (!q) return tl::unexpected(q.error());
    auto row = q->bind(1, name).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<PlanRecord>();
    return std::optional<PlanRecord>(read_plan(*q));
  }

  Result<std::vector<PlanRecord>> list_plans() override {
    std::lock_guard lock(mu_);
    auto q = db_.query(
        "SELECT name, spec_yaml, fingerprint, universe_json, created_at, updated_at, control FROM "
        "plans ORDER BY name",
        "list_plans");
    if (!q) return tl::unexpected(q.error());
    std::vector<PlanRecord> out;
    while (true) {
      auto row = q->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out.push_back(read_plan(*q));
    }
    return out;
  }

  Result<void> set_plan_control(const std::string& name, const std::string& control) override {
    std::lock_guard lock(mu_);
    auto q = db_.query("UPDATE plans SET control = ?2, updated_at = ?3 WHERE name = ?1",
                       "set_plan_control");
    if (!q) return tl::unexpected(q.error());
    if (auto r = q->bind(1, name).bind(2, control).bind(3, now_micros()).run(); !r) return r;
    if (db_.changes() == 0)
      return fail(ErrorKind::not_found, fmt::format("{}: no plan named '{}'", db_.label(), name));
    return {};
  }

  Result<bool> remove_plan(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "remove_plan");
    if (!tx) return tl::unexpected(tx.error());
    for (const char* sql :
         {"DELETE FROM tasks WHERE plan = ?1", "DELETE FROM runs WHERE plan = ?1",
          "DELETE FROM marks WHERE plan = ?1", "DELETE FROM plans WHERE name = ?1"}) {
      auto q = db_.query(sql, "remove_plan");
      if (!q) return tl::unexpected(q.error());
      if (auto r = q->bind(1, name).run(); !r) return tl::unexpected(r.error());
    }
    const bool removed = db_.changes() > 0;
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return removed;
  }

  // created_at is kept from the first put: updating a plan does not make it new.
  Result<void> put_plan(const PlanRecord& plan) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "put_plan");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query(
        "INSERT INTO plans(name, spec_yaml, fingerprint, universe_json, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET "
        "spec_yaml = excluded.spec_yaml, fingerprint = excluded.fingerprint, "
        "universe_json = excluded.universe_json, updated_at = excluded.updated_at",
        "put_plan");
    if (!q) return tl::unexpected(q.error());
    auto r = q->bind(1, plan.name)
                 .bind(2, plan.spec_yaml)
                 .bind(3, plan.fingerprint)
                 .bind(4, plan.universe_json)
                 .bind(5, to_micros(plan.created_at))
                 .bind(6, to_micros(plan.updated_at))
                 .run();
    if (!r) return r;
    return tx->commit();
  }

  Result<int64_t> add_tasks(const std::vector<Task>& tasks) override {
    if (tasks.empty()) return 0;
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "add_tasks");
    if (!tx) return tl::unexpected(tx.error());
    auto added = insert_tasks(tasks, nullptr, "add_tasks");
    if (!added) return added;
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return added;
  }

  Result<std::vector<Task>> list_tasks(const std::string& plan) override {
    std::lock_guard lock(mu_);
    std::vector<Task> out;
    {
      // Sized first: growing a vector of a million tasks would hold two copies at the end.
      auto n = db_.query("SELECT count(*) FROM tasks WHERE plan = ?1", "list_tasks");
      if (!n) return tl::unexpected(n.error());
      auto row = n->bind(1, plan).step();
      if (!row) return tl::unexpected(row.error());
      if (*row) out.reserve(size_t(n->int64(0)));
    }
    auto q = db_.query(kListTasks, "list_tasks");
    if (!q) return tl::unexpected(q.error());
    q->bind(1, plan);
    while (true) {
      auto row = q->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      auto t = read_task(db_, *q);
      if (!t) return tl::unexpected(t.error());
      out.push_back(std::move(*t));
    }
    return out;
  }

  Result<std::optional<Task>> get_task(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto q = db_.query(kSelectTask, "get_task");
    if (!q) return tl::unexpected(q.error());
    auto row = q->bind(1, id).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<Task>();
    auto t = read_task(db_, *q);
    if (!t) return tl::unexpected(t.error());
    return std::optional<Task>(std::move(*t));
  }

  Result<void> update_task(const Task& task) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "update_task");
    if (!tx) return tl::unexpected(tx.error());
    if (auto r = write_task(task, task.state, "update_task"); !r) return r;
    if (auto f = FINSYNC_FAILPOINT("state.inside_task_write"); !f) return f;
    return tx->commit();
  }

  Result<void> update_tasks(const std::vector<Task>& tasks) override {
    if (tasks.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "update_tasks");
    if (!tx) return tl::unexpected(tx.error());
    for (const Task& t : tasks)
      if (auto r = write_task(t, t.state, "update_tasks"); !r) return r;
    if (auto f = FINSYNC_FAILPOINT("state.inside_task_write"); !f) return f;
    return tx->commit();
  }

  Result<void> split_task(const Task& parent, const std::vector<Task>& children) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "split_task");
    if (!tx) return tl::unexpected(tx.error());
    if (auto r = write_task(parent, TaskState::split, "split_task"); !r) return r;
    if (auto r = insert_tasks(children, &parent.id, "split_task"); !r) {
      return tl::unexpected(r.error());
    }
    return tx->commit();
  }

  Result<bool> merge_tasks(const std::vector<Task>& parts, const Task& merged) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "merge_tasks");
    if (!tx) return tl::unexpected(tx.error());
    for (const auto& p : parts) {
      auto q = db_.query(
          "UPDATE tasks SET state = 'split', updated_at = ?2 WHERE id = ?1 AND state = 'pending'",
          "merge_tasks");
      if (!q) return tl::unexpected(q.error());
      if (auto r = q->bind(1, p.id).bind(2, now_micros()).run(); !r)
        return tl::unexpected(r.error());
      if (db_.changes() == 0) return false;  // taken or done meanwhile: the transaction rolls back
    }
    auto added = insert_tasks({merged}, nullptr, "merge_tasks");
    if (!added) return tl::unexpected(added.error());
    if (*added == 0) return false;
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return true;
  }

  Result<std::vector<Task>> claim_tasks(const std::vector<std::string>& ids,
                                        const std::string& holder, TimePoint now,
                                        TimePoint until) override {
    std::vector<Task> out;
    if (ids.empty()) return out;
    std::lock_guard lock(mu_);
    // BEGIN IMMEDIATE holds the write lock from the first check: no other process claims between
    // a task's check and its update.
    auto tx = Transaction::begin(db_, "claim_tasks");
    if (!tx) return tl::unexpected(tx.error());
    for (const auto& id : ids) {
      auto q = db_.query(kClaimTask, "claim_tasks");
      if (!q) return tl::unexpected(q.error());
      auto r = q->bind(1, id)
                   .bind(2, holder)
                   .bind(3, to_micros(now))
                   .bind(4, to_micros(until))
                   .bind(5, now_micros())
                   .run();
      if (!r) return tl::unexpected(r.error());
      if (db_.changes() == 0) continue;
      auto s = db_.query(kSelectTask, "claim_tasks");
      if (!s) return tl::unexpected(s.error());
      auto row = s->bind(1, id).step();
      if (!row) return tl::unexpected(row.error());
      auto t = read_task(db_, *s);
      if (!t) return tl::unexpected(t.error());
      out.push_back(std::move(*t));
    }
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return out;
  }

  Result<int64_t> renew_leases(const std::string& holder, TimePoint until) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "renew_leases");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query("UPDATE tasks SET lease_until = ?2 WHERE lease_holder = ?1", "renew_leases");
    if (!q) return tl::unexpected(q.error());
    if (auto r = q->bind(1, holder).bind(2, to_micros(until)).run(); !r)
      return tl::unexpected(r.error());
    const int64_t n = db_.changes();
    auto w = db_.query("UPDATE plans SET writer_until = ?2 WHERE writer = ?1", "renew_leases");
    if (!w) return tl::unexpected(w.error());
    if (auto r = w->bind(1, holder).bind(2, to_micros(until)).run(); !r)
      return tl::unexpected(r.error());
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return n;
  }

  Result<void> release_leases(const std::string& holder) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "release_leases");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query(
        "UPDATE tasks SET state = CASE WHEN state = 'running' THEN 'pending' ELSE state END, "
        "lease_holder = '', lease_until = NULL, updated_at = ?2 WHERE lease_holder = ?1",
        "release_leases");
    if (!q) return tl::unexpected(q.error());
    if (auto r = q->bind(1, holder).bind(2, now_micros()).run(); !r) return r;
    auto w = db_.query("UPDATE plans SET writer = '', writer_until = NULL WHERE writer = ?1",
                       "release_leases");
    if (!w) return tl::unexpected(w.error());
    if (auto r = w->bind(1, holder).run(); !r) return r;
    return tx->commit();
  }

  Result<int64_t> expire_leases(const std::string& plan, TimePoint now) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "expire_leases");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query(
        "UPDATE tasks SET state = 'pending', lease_holder = '', lease_until = NULL, "
        "updated_at = ?3 WHERE plan = ?1 AND state = 'running' AND "
        "(lease_holder = '' OR lease_until IS NULL OR lease_until <= ?2)",
        "expire_leases");
    if (!q) return tl::unexpected(q.error());
    if (auto r = q->bind(1, plan).bind(2, to_micros(now)).bind(3, now_micros()).run(); !r)
      return tl::unexpected(r.error());
    const int64_t n = db_.changes();
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return n;
  }

  Result<std::optional<Lease>> claim_plan_writer(const std::string& plan, const std::string& holder,
                                                 TimePoint now, TimePoint until) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "claim_plan_writer");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query(kClaimWriter, "claim_plan_writer");
    if (!q) return tl::unexpected(q.error());
    auto r =
        q->bind(1, plan).bind(2, holder).bind(3, to_micros(now)).bind(4, to_micros(until)).run();
    if (!r) return tl::unexpected(r.error());
    if (db_.changes() > 0) {
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return std::optional<Lease>();
    }
    auto s =
        db_.query("SELECT writer, writer_until FROM plans WHERE name = ?1", "claim_plan_writer");
    if (!s) return tl::unexpected(s.error());
    auto row = s->bind(1, plan).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row)
      return fail(ErrorKind::not_found, fmt::format("{}: no plan named '{}'", db_.label(), plan));
    Lease held{s->text(0), s->is_null(1) ? TimePoint{} : from_micros(s->int64(1))};
    return std::optional<Lease>(std::move(held));
  }

  Result<void> put_run(const RunRecord& run) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "put_run");
    if (!tx) return tl::unexpected(tx.error());
    auto q = db_.query(
        "INSERT INTO runs(id, plan, kind, status, started_at, finished_at, tasks_total, "
        "tasks_succeeded, tasks_failed, tasks_dead, tasks_skipped, tasks_split, rows, bytes, "
        "requests, retries, rate_limited, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) ON CONFLICT(id) DO UPDATE SET "
        "plan = excluded.plan, kind = excluded.kind, status = excluded.status, "
        "started_at = excluded.started_at, finished_at = excluded.finished_at, "
        "tasks_total = excluded.tasks_total, tasks_succeeded = excluded.tasks_succeeded, "
        "tasks_failed = excluded.tasks_failed, tasks_dead = excluded.tasks_dead, "
        "tasks_skipped = excluded.tasks_skipped, tasks_split = excluded.tasks_split, "
        "rows = excluded.rows, bytes = excluded.bytes, requests = excluded.requests, "
        "retries = excluded.retries, rate_limited = excluded.rate_limited, "
        "error = excluded.error",
        "put_run");
    if (!q) return tl::unexpected(q.error());
    auto r = q->bind(1, run.id)
                 .bind(2, run.plan)
                 .bind(3, run.kind)
                 .bind(4, run.status)
                 .bind(5, to_micros(run.started_at))
                 .bind(6, opt_micros(run.finished_at))
                 .bind(7, run.tasks_total)
                 .bind(8, run.tasks_succeeded)
                 .bind(9, run.tasks_failed)
                 .bind(10, run.tasks_dead)
                 .bind(11, run.tasks_skipped)
                 .bind(12, run.tasks_split)
                 .bind(13, run.rows)
                 .bind(14, run.bytes)
                 .bind(15, run.requests)
                 .bind(16, run.retries)
                 .bind(17, run.rate_limited)
                 .bind(18, run.error)
                 .run();
    if (!r) return r;
    return tx->commit();
  }

  Result<std::optional<RunRecord>> get_run(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto q = db_.query(kSelectRun, "get_run");
    if (!q) return tl::unexpected(q.error());
    auto row = q->bind(1, id).step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<RunRecord>();
    return std::optional<RunRecord>(read_run(*q));
  }

  // limit <= 0: every run.
  Result<std::vector<RunRecord>> list_runs(const std::string& plan, int limit) override {
    std::lock_guard lock(mu_);
    // Two statements rather than `?2 = '' OR plan = ?2`, which would hide the index on plan.
    auto q = db_.query(plan.empty() ? kListRuns : kListPlanRuns, "list_runs");
    if (!q) return tl::unexpected(q.error());
    q->bind(1, int64_t{limit > 0 ? limit : -1});
    if (!plan.empty()) q->bind(2, plan);
    std::vector<RunRecord> out;
    while (true) {
      auto row = q->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out.push_back(read_run(*q));
    }
    return out;
  }

  Result<std::map<std::string, int32_t>> list_marks(const std::string& plan) override {
    std::lock_guard lock(mu_);
    auto q = db_.query("SELECT param_set, day FROM marks WHERE plan = ?1", "list_marks");
    if (!q) return tl::unexpected(q.error());
    q->bind(1, plan);
    std::map<std::string, int32_t> out;
    while (true) {
      auto row = q->step();
      if (!row) return tl::unexpected(row.error());
      if (!*row) break;
      out[q->text(0)] = int32_t(q->int64(1));
    }
    return out;
  }

  Result<void> advance_marks(const std::string& plan,
                             const std::map<std::string, int32_t>& marks) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "advance_marks");
    if (!tx) return tl::unexpected(tx.error());
    const int64_t now = now_micros();
    for (const auto& [set, day] : marks) {
      auto q = db_.query(
          "INSERT INTO marks(plan, param_set, day, updated_at) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT(plan, param_set) DO UPDATE SET day = excluded.day, "
          "updated_at = excluded.updated_at WHERE excluded.day > marks.day",
          "advance_marks");
      if (!q) return tl::unexpected(q.error());
      if (auto r = q->bind(1, plan).bind(2, set).bind(3, int64_t{day}).bind(4, now).run(); !r)
        return r;
    }
    return tx->commit();
  }

  Result<void> clear_marks(const std::string& plan) override {
    std::lock_guard lock(mu_);
    auto q = db_.query("DELETE FROM marks WHERE plan = ?1", "clear_marks");
    if (!q) return tl::unexpected(q.error());
    return q->bind(1, plan).run();
  }

  int schema_version() const override { return version_; }

 private:
  // Inside a transaction. `parent` overrides each task's parent (split children).
  Result<int64_t> insert_tasks(const std::vector<Task>& tasks, const std::string* parent,
                               std::string_view op) {
    const int64_t now = now_micros();
    int64_t added = 0;
    for (size_t at = 0; at < tasks.size();) {
      const size_t n = tasks.size() - at >= kInsertRows ? kInsertRows : 1;
      auto q = db_.query(n == 1 ? kInsertTask : kInsertTasks, op);
      if (!q) return tl::unexpected(q.error());
      for (size_t i = 0; i < n; ++i) {
        const Task& t = tasks[at + i];
        const int o = static_cast<int>(i) * kInsertTaskParams;
        // `tasks` and `parent` outlive the statement's run: nothing needs copying.
        q->bind_unowned(o + 1, t.id)
            .bind_unowned(o + 2, t.plan)
            .bind_unowned(o + 3, t.params_json)
            .bind(o + 4, int64_t{t.start_day})
            .bind(o + 5, int64_t{t.end_day})
            .bind_unowned(o + 6, to_string(t.state))
            .bind(o + 7, int64_t{t.attempts})
            .bind(o + 8, t.rows)
            .bind(o + 9, t.bytes)
            .bind(o + 10, t.duration_ms)
            .bind(o + 11, t.requests)
            .bind_unowned(o + 12, t.last_error)
            .bind(o + 13, opt_micros(t.resume_at))
            .bind_unowned(o + 14, parent != nullptr ? *parent : t.parent)
            .bind_unowned(o + 15, t.run_id)
            .bind(o + 16, now);
      }
      if (auto r = q->run(); !r) return tl::unexpected(r.error());
      added += db_.changes();
      at += n;
    }
    return added;
  }

  // Inside a transaction: writes the mutable fields of an existing task.
  Result<void> write_task(const Task& t, TaskState state, std::string_view op) {
    auto q = db_.query(kUpdateTask, op);
    if (!q) return tl::unexpected(q.error());
    auto r = q->bind(1, t.id)
                 .bind(2, to_string(state))
                 .bind(3, int64_t{t.attempts})
                 .bind(4, t.rows)
                 .bind(5, t.bytes)
                 .bind(6, t.duration_ms)
                 .bind(7, t.requests)
                 .bind(8, t.last_error)
                 .bind(9, opt_micros(t.resume_at))
                 .bind(10, t.run_id)
                 .bind(11, now_micros())
                 .bind(12, t.page_cursor)
                 .run();
    if (!r) return r;
    if (db_.changes() == 0) {
      return fail(ErrorKind::not_found,
                  fmt::format("{}: {}: no task with id {}", db_.label(), op, t.id));
    }
    return {};
  }

  std::mutex mu_;  // one connection: calls from several threads take turns
  Db db_;
  int version_;
  std::string path_;
};

}  // namespace

namespace detail {

Result<int> migrate_sqlite_state(const std::string& path, int version) {
  if (version < 1 || version > sqlite_schema_version_latest()) {
    return fail(ErrorKind::invalid_input, fmt::format("schema version {} is not between 1 and {}",
                                                      version, sqlite_schema_version_latest()));
  }
  auto db = open_db(path, version);
  if (!db) return tl::unexpected(db.error());
  return read_version(*db);
}

}  // namespace detail

Result<std::unique_ptr<StateStore>> open_sqlite_state(const std::string& path) {
  auto db = open_db(path, detail::sqlite_schema_version_latest());
  if (!db) return tl::unexpected(db.error());
  auto version = read_version(*db);
  if (!version) return tl::unexpected(version.error());
  return std::unique_ptr<StateStore>(
      std::make_unique<SqliteStateStore>(std::move(*db), *version, path));
}

}  // namespace finsync::state
