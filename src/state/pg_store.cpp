// PostgreSQL state store: the same tables and semantics as the SQLite store, in one schema of a
// shared database, so several finsync processes on several machines can work on the same plans.
// One connection per store; every write is a short transaction.
#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/failpoint.hpp"
#include "core/json_escape.hpp"
#include "state/micros.hpp"
#include "state/pg_conn.hpp"
#include "state/pg_ledger.hpp"
#include "state/pg_store_internal.hpp"
#include "state/pg_task_writer.hpp"
#include "state/state_store.hpp"

namespace finsync::state {

namespace detail {
namespace {

// Numbered like the SQLite steps: version N has the same tables and columns in both stores.
// Never edit a released step; append one.
constexpr std::array<Migration, 5> kMigrations{{
    {1, "initial schema: plans, tasks, runs",
     R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
CREATE TABLE plans(
  name TEXT PRIMARY KEY,
  spec_yaml TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  universe_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE tasks(
  id TEXT PRIMARY KEY,
  plan TEXT NOT NULL REFERENCES plans(name),
  params_json TEXT NOT NULL,
  start_day INTEGER NOT NULL,
  end_day INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  rows BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  resume_at BIGINT,
  parent TEXT NOT NULL DEFAULT '',
  run_id TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL
);
CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  plan TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT,
  tasks_total BIGINT NOT NULL DEFAULT 0,
  tasks_succeeded BIGINT NOT NULL DEFAULT 0,
  tasks_failed BIGINT NOT NULL DEFAULT 0,
  tasks_dead BIGINT NOT NULL DEFAULT 0,
  tasks_skipped BIGINT NOT NULL DEFAULT 0,
  tasks_split BIGINT NOT NULL DEFAULT 0,
  rows BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0,
  requests BIGINT NOT NULL DEFAULT 0,
  retries BIGINT NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT ''
);
)sql"},
    {2, "request and rate-limit counters; tasks(plan, state) and runs(plan, started_at) indexes",
     R"sql(
ALTER TABLE tasks ADD COLUMN requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN rate_limited BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tasks_plan_state ON tasks(plan, state);
CREATE INDEX runs_plan_started ON runs(plan, started_at);
)sql"},
    {3, "quota ledger: request slots, aligned-window counters, rate-limit blocks; plan control",
     R"sql(
ALTER TABLE plans ADD COLUMN control TEXT NOT NULL DEFAULT '';
CREATE TABLE quota_slots(
  id BIGINT PRIMARY KEY,
  provider TEXT NOT NULL,
  account TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  weight BIGINT NOT NULL,
  sent_at BIGINT NOT NULL,
  done_at BIGINT,
  stale_at BIGINT NOT NULL
);
CREATE INDEX quota_slots_provider ON quota_slots(provider);
CREATE TABLE quota_counters(
  provider TEXT NOT NULL,
  window_name TEXT NOT NULL,
  period_start BIGINT NOT NULL,
  used BIGINT NOT NULL,
  PRIMARY KEY(provider, window_name)
);
CREATE TABLE quota_blocks(
  provider TEXT NOT NULL,
  account TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  until_at BIGINT NOT NULL,
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
  updated_at BIGINT NOT NULL,
  PRIMARY KEY(plan, param_set)
);
)sql"},
    {5, "task leases, plan writer leases, page checkpoints",
     R"sql(
ALTER TABLE tasks ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN lease_until BIGINT;
ALTER TABLE tasks ADD COLUMN page_cursor TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE plans ADD COLUMN writer_until BIGINT;
CREATE INDEX tasks_lease_holder ON tasks(lease_holder) WHERE lease_holder <> '';
)sql"},
}};

}  // namespace

std::span<const Migration> postgres_migrations() {
  return kMigrations;
}

}  // namespace detail

namespace {

using pg::Conn;
using pg::Param;
using pg::Rows;
using pg::Transaction;

int latest_version() {
  return detail::postgres_migrations().back().version;
}

// ---- opening and migrating

// Version of the store in `schema`: 0 when there is none (no schema, or an empty one). Rejects a
// schema that holds something else.
Result<int> read_version(Conn& c, const std::string& schema) {
  auto probe = c.exec("read schema version",
                      "SELECT to_regclass(format('%I.schema_version', $1::text)) IS NOT NULL, "
                      "(SELECT count(*) FROM pg_class k JOIN pg_namespace n "
                      "ON n.oid = k.relnamespace WHERE n.nspname = $1::text)",
                      {schema});
  if (!probe) return tl::unexpected(probe.error());
  if (probe->text(0, 0) != "t") {
    if (probe->int64(0, 1) == 0) return 0;
    return fail(ErrorKind::invalid_input,
                c.label() +
                    " is a PostgreSQL schema but not a finsync state store (it has no "
                    "schema_version table)");
  }
  auto v = c.exec("read schema version", "SELECT count(*), max(version) FROM schema_version");
  if (!v) return tl::unexpected(v.error());
  if (v->int64(0, 0) != 1) {
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: schema_version must hold exactly one row, found {}", c.label(),
                            v->int64(0, 0)));
  }
  return static_cast<int>(v->int64(0, 1));
}

Error newer_schema(const Conn& c, int version) {
  return Error{ErrorKind::invalid_input,
               fmt::format("{} has schema version {}; this finsync knows up to {}: upgrade finsync",
                           c.label(), version, latest_version()),
               std::nullopt};
}

Error no_store(const Conn& c) {
  return Error{ErrorKind::not_found, c.label() + " holds no state store yet", std::nullopt};
}

// Brings the store up to `target` in one transaction: every missing step and the version bump
// commit together or not at all. The transaction-scoped advisory lock serialises processes that
// open the same schema at once; the version is re-read under it, since another process may have
// migrated meanwhile. A store already at `target` is not locked at all.
Result<int> migrate(Conn& c, const std::string& schema, int target, bool create) {
  auto current = read_version(c, schema);
  if (!current) return current;
  if (*current > latest_version()) return tl::unexpected(newer_schema(c, *current));
  if (*current >= target) return current;
  if (*current == 0 && !create) return tl::unexpected(no_store(c));

  auto tx = Transaction::begin(c, "migrate");
  if (!tx) return tl::unexpected(tx.error());
  if (auto r = c.exec("migrate", "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))",
                      {"finsync state store " + schema});
      !r) {
    return tl::unexpected(r.error());
  }
  auto v = read_version(c, schema);
  if (!v) return v;
  if (*v > latest_version()) return tl::unexpected(newer_schema(c, *v));
  if (*v >= target) return v;
  const bool fresh = *v == 0;
  if (fresh) {
    // CREATE SCHEMA IF NOT EXISTS would still need the CREATE privilege on the database, which a
    // schema prepared by an administrator should not require.
    auto exists =
        c.exec("migrate", "SELECT count(*) FROM pg_namespace WHERE nspname = $1::text", {schema});
    if (!exists) return tl::unexpected(exists.error());
    if (exists->int64(0, 0) == 0) {
      const std::string create_schema = "CREATE SCHEMA " + c.quote_ident(schema);
      if (auto r = c.exec_script("create schema", create_schema.c_str()); !r) {
        return tl::unexpected(r.error());
      }
    }
  }
  for (const auto& m : detail::postgres_migrations()) {
    if (m.version <= *v) continue;
    if (m.version > target) break;
    // A new store goes through every step too; only an upgrade is worth an info line.
    spdlog::log(fresh ? spdlog::level::debug : spdlog::level::info,
                "{}: migrating schema to version {}: {}", c.label(), m.version, m.summary);
    const std::string op = fmt::format("migration {}", m.version);
    if (auto r = c.exec_script(op, m.sql); !r) return tl::unexpected(r.error());
  }
  auto bump =
      fresh
          ? c.exec("migrate", "INSERT INTO schema_version(version) VALUES ($1)", {int64_t{target}})
          : c.exec("migrate", "UPDATE schema_version SET version = $1", {int64_t{target}});
  if (!bump) return tl::unexpected(bump.error());
  if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
  return read_version(c, schema);
}

// Connects, points the session at the schema and migrates it to `target`.
Result<std::pair<Conn, int>> open_conn(const PostgresStateOptions& o, int target) {
  if (o.schema.empty())
    return fail(ErrorKind::invalid_input, "state store postgres: schema is empty");
  auto c = Conn::connect(o.dsn, o.password, "state store postgres", " schema " + o.schema);
  if (!c) return tl::unexpected(c.error());
  // Unqualified names below resolve to the store's schema only (pg_catalog is always searched).
  if (auto r = c->set_session("SET search_path TO " + c->quote_ident(o.schema)); !r) {
    return tl::unexpected(r.error());
  }
  auto version = migrate(*c, o.schema, target, o.create);
  if (!version) return tl::unexpected(version.error());
  return std::pair<Conn, int>(std::move(*c), *version);
}

// ---- rows

constexpr const char* kTaskColumns =
    "id, plan, params_json, start_day, end_day, state, attempts, rows, bytes, duration_ms, "
    "requests, last_error, resume_at, parent, run_id, lease_holder, lease_until, page_cursor";

Result<Task> read_task(const Conn& c, const Rows& r, int i) {
  Task t;
  t.id = r.text(i, 0);
  t.plan = r.text(i, 1);
  t.params_json = r.text(i, 2);
  t.start_day = static_cast<int32_t>(r.int64(i, 3));
  t.end_day = static_cast<int32_t>(r.int64(i, 4));
  const auto state = r.text(i, 5);
  const auto parsed = parse_task_state(state);
  if (!parsed) {
    return fail(ErrorKind::internal,
                fmt::format("{}: task {} has unknown state '{}'", c.label(), t.id, state));
  }
  t.state = *parsed;
  t.attempts = static_cast<int>(r.int64(i, 6));
  t.rows = r.int64(i, 7);
  t.bytes = r.int64(i, 8);
  t.duration_ms = r.int64(i, 9);
  t.requests = r.int64(i, 10);
  t.last_error = r.text(i, 11);
  if (!r.is_null(i, 12)) t.resume_at = from_micros(r.int64(i, 12));
  t.parent = r.text(i, 13);
  t.run_id = r.text(i, 14);
  t.lease_holder = r.text(i, 15);
  if (!r.is_null(i, 16)) t.lease_until = from_micros(r.int64(i, 16));
  t.page_cursor = r.text(i, 17);
  return t;
}

Result<void> append_tasks(const Conn& c, const Rows& r, std::vector<Task>& out) {
  for (int i = 0; i < r.size(); ++i) {
    auto t = read_task(c, r, i);
    if (!t) return tl::unexpected(t.error());
    out.push_back(std::move(*t));
  }
  return {};
}

Result<std::vector<Task>> read_tasks(const Conn& c, const Rows& r) {
  std::vector<Task> out;
  out.reserve(static_cast<size_t>(r.size()));
  if (auto a = append_tasks(c, r, out); !a) return tl::unexpected(a.error());
  return out;
}

constexpr const char* kRunColumns =
    "id, plan, kind, status, started_at, finished_at, tasks_total, tasks_succeeded, "
    "tasks_failed, tasks_dead, tasks_skipped, tasks_split, rows, bytes, requests, retries, "
    "rate_limited, error";

RunRecord read_run(const Rows& r, int i) {
  RunRecord run;
  run.id = r.text(i, 0);
  run.plan = r.text(i, 1);
  run.kind = r.text(i, 2);
  run.status = r.text(i, 3);
  run.started_at = from_micros(r.int64(i, 4));
  if (!r.is_null(i, 5)) run.finished_at = from_micros(r.int64(i, 5));
  run.tasks_total = r.int64(i, 6);
  run.tasks_succeeded = r.int64(i, 7);
  run.tasks_failed = r.int64(i, 8);
  run.tasks_dead = r.int64(i, 9);
  run.tasks_skipped = r.int64(i, 10);
  run.tasks_split = r.int64(i, 11);
  run.rows = r.int64(i, 12);
  run.bytes = r.int64(i, 13);
  run.requests = r.int64(i, 14);
  run.retries = r.int64(i, 15);
  run.rate_limited = r.int64(i, 16);
  run.error = r.text(i, 17);
  return run;
}

PlanRecord read_plan(const Rows& r, int i) {
  PlanRecord p;
  p.name = r.text(i, 0);
  p.spec_yaml = r.text(i, 1);
  p.fingerprint = r.text(i, 2);
  p.universe_json = r.text(i, 3);
  p.created_at = from_micros(r.int64(i, 4));
  p.updated_at = from_micros(r.int64(i, 5));
  p.control = r.text(i, 6);
  return p;
}

// Byte order (COLLATE "C") as in SQLite, whatever the database's collation.
const std::string kSelectPlan =
    "SELECT name, spec_yaml, fingerprint, universe_json, created_at, updated_at, control FROM "
    "plans WHERE name = $1";
const std::string kListPlans =
    "SELECT name, spec_yaml, fingerprint, universe_json, created_at, updated_at, control FROM "
    "plans ORDER BY name COLLATE \"C\"";
const std::string kSelectTask = std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE id = $1";
const std::string kListTasks =
    std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE plan = $1 ORDER BY id COLLATE \"C\"";
// list_tasks reads through a cursor, so that one chunk of rows sits in a PGresult next to the
// tasks read so far: a plan of a million tasks is not held twice.
const std::string kDeclareTaskCursor = "DECLARE list_tasks NO SCROLL CURSOR FOR " + kListTasks;
constexpr const char* kFetchTasks = "FETCH 10000 FROM list_tasks";
const std::string kSelectRun = std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = $1";
const std::string kListRuns = std::string("SELECT ") + kRunColumns +
                              " FROM runs ORDER BY started_at DESC, id COLLATE \"C\" DESC LIMIT $1";
const std::string kListPlanRuns =
    std::string("SELECT ") + kRunColumns +
    " FROM runs WHERE plan = $2 ORDER BY started_at DESC, id COLLATE \"C\" DESC LIMIT $1";

// Rows per INSERT: one round trip per chunk instead of per task, well under libpq's 65535
// parameters per statement.
constexpr size_t kInsertChunk = 1000;

// A task that leaves `running` leaves its lease too.
constexpr const char* kUpdateTask =
    "UPDATE tasks SET state = $2, attempts = $3, rows = $4, bytes = $5, duration_ms = $6, "
    "requests = $7, last_error = $8, resume_at = $9, run_id = $10, updated_at = $11, "
    "page_cursor = $12, lease_holder = CASE WHEN $2 = 'running' THEN lease_holder ELSE '' END, "
    "lease_until = CASE WHEN $2 = 'running' THEN lease_until ELSE NULL END WHERE id = $1";

// The parameters of kUpdateTask: update_task and update_task_on send the same statement.
std::vector<Param> update_task_params(const Task& t, TaskState state) {
  return {
      t.id,       to_string(state), int64_t{t.attempts},     t.rows,   t.bytes,      t.duration_ms,
      t.requests, t.last_error,     opt_micros(t.resume_at), t.run_id, now_micros(), t.page_cursor};
}

// The ids ($1, a JSON array of strings) free for `holder` ($2) at `now` ($3): nobody's,
// expired, or its own. SKIP LOCKED passes over rows another worker is claiming or writing right
// now instead of queueing behind it; the row lock, and the re-check of the condition on the
// newest row version that READ COMMITTED does after a wait, make two claims of one task
// impossible.
const std::string kClaimTasks =
    std::string(
        "UPDATE tasks SET state = 'running', lease_holder = $2, lease_until = $4, "
        "updated_at = $5 WHERE id IN (SELECT id FROM tasks WHERE id IN "
        "(SELECT json_array_elements_text($1::json)) AND "
        "state IN ('pending', 'failed', 'parked', 'running') AND "
        "(lease_holder = '' OR lease_holder = $2 OR lease_until IS NULL OR lease_until <= $3) "
        "FOR UPDATE SKIP LOCKED) RETURNING ") +
    kTaskColumns;

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"' + json_escape(items[i]) + '"';
  }
  return out + "]";
}

// update_tasks: kUpdateTask for `n` tasks in one statement, their values joined by id.
constexpr int kUpdateParams = 12;
std::string update_tasks_sql(size_t n) {
  std::string sql =
      "UPDATE tasks AS t SET state = v.state, attempts = v.attempts, rows = v.rows, "
      "bytes = v.bytes, duration_ms = v.duration_ms, requests = v.requests, "
      "last_error = v.last_error, resume_at = v.resume_at, run_id = v.run_id, "
      "updated_at = v.updated_at, page_cursor = v.page_cursor, "
      "lease_holder = CASE WHEN v.state = 'running' THEN t.lease_holder ELSE '' END, "
      "lease_until = CASE WHEN v.state = 'running' THEN t.lease_until ELSE NULL END FROM (VALUES ";
  for (size_t i = 0; i < n; ++i) {
    const size_t b = i * kUpdateParams;
    // The first row's casts type the columns of VALUES.
    sql += fmt::format(
        "{}(${}::text, ${}::text, ${}::bigint, ${}::bigint, ${}::bigint, ${}::bigint, ${}::bigint, "
        "${}::text, ${}::bigint, ${}::text, ${}::bigint, ${}::text)",
        i == 0 ? "" : ", ", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10,
        b + 11, b + 12);
  }
  sql +=
      ") AS v(id, state, attempts, rows, bytes, duration_ms, requests, last_error, resume_at, "
      "run_id, updated_at, page_cursor) WHERE t.id = v.id";
  return sql;
}

class PostgresStateStore final : public StateStore {
 public:
  PostgresStateStore(Conn conn, int version, PostgresStateOptions options)
      : conn_(std::move(conn)), version_(version), options_(std::move(options)) {}

  Result<std::unique_ptr<ratelimit::LedgerStore>> open_ledger() override {
    // Its own connection: quota decisions never wait behind a long task write.
    auto opened = open_conn(options_, version_);
    if (!opened) return tl::unexpected(opened.error());
    return make_pg_ledger(std::move(opened->first));
  }

  Result<std::optional<PlanRecord>> get_plan(const std::string& name) override {
    return operation([&]() -> Result<std::optional<PlanRecord>> {
      auto r = conn_.exec("get_plan", kSelectPlan.c_str(), {name});
      if (!r) return tl::unexpected(r.error());
      if (r->size() == 0) return std::optional<PlanRecord>();
      return std::optional<PlanRecord>(read_plan(*r, 0));
    });
  }

  Result<std::vector<PlanRecord>> list_plans() override {
    return operation([&]() -> Result<std::vector<PlanRecord>> {
      auto r = conn_.exec("list_plans", kListPlans.c_str());
      if (!r) return tl::unexpected(r.error());
      std::vector<PlanRecord> out;
      for (int i = 0; i < r->size(); ++i) out.push_back(read_plan(*r, i));
      return out;
    });
  }

  Result<void> set_plan_control(const std::string& name, const std::string& control) override {
    return operation([&]() -> Result<void> {
      auto r = conn_.exec("set_plan_control",
                          "UPDATE plans SET control = $2, updated_at = $3 WHERE name = $1",
                          {name, control, now_micros()});
      if (!r) return tl::unexpected(r.error());
      if (r->affected() == 0)
        return fail(ErrorKind::not_found,
                    fmt::format("{}: no plan named '{}'", conn_.label(), name));
      return {};
    });
  }

  Result<bool> remove_plan(const std::string& name) override {
    return operation([&]() -> Result<bool> {
      auto tx = Transaction::begin(conn_, "remove_plan");
      if (!tx) return tl::unexpected(tx.error());
      for (const char* sql :
           {"DELETE FROM tasks WHERE plan = $1", "DELETE FROM runs WHERE plan = $1",
            "DELETE FROM marks WHERE plan = $1"})
        if (auto r = conn_.exec("remove_plan", sql, {name}); !r) return tl::unexpected(r.error());
      auto r = conn_.exec("remove_plan", "DELETE FROM plans WHERE name = $1", {name});
      if (!r) return tl::unexpected(r.error());
      const bool removed = r->affected() > 0;
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return removed;
    });
  }

  // created_at is kept from the first put: updating a plan does not make it new.
  Result<void> put_plan(const PlanRecord& plan) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "put_plan");
      if (!tx) return tl::unexpected(tx.error());
      auto r = conn_.exec(
          "put_plan",
          "INSERT INTO plans(name, spec_yaml, fingerprint, universe_json, created_at, updated_at) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET "
          "spec_yaml = excluded.spec_yaml, fingerprint = excluded.fingerprint, "
          "universe_json = excluded.universe_json, updated_at = excluded.updated_at",
          {plan.name, plan.spec_yaml, plan.fingerprint, plan.universe_json,
           to_micros(plan.created_at), to_micros(plan.updated_at)});
      if (!r) return tl::unexpected(r.error());
      return tx->commit();
    });
  }

  Result<int64_t> add_tasks(const std::vector<Task>& tasks) override {
    if (tasks.empty()) return 0;
    return operation([&]() -> Result<int64_t> {
      auto tx = Transaction::begin(conn_, "add_tasks");
      if (!tx) return tl::unexpected(tx.error());
      auto added = insert_tasks(tasks, nullptr, "add_tasks");
      if (!added) return added;
      if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
      return added;
    });
  }

  Result<std::vector<Task>> list_tasks(const std::string& plan) override {
    return operation([&]() -> Result<std::vector<Task>> {
      auto tx = Transaction::begin(conn_, "list_tasks");
      if (!tx) return tl::unexpected(tx.error());
      if (auto d = conn_.exec("list_tasks", kDeclareTaskCursor.c_str(), {plan}); !d)
        return tl::unexpected(d.error());
      std::vector<Task> out;
      for (;;) {
        auto r = conn_.exec("list_tasks", kFetchTasks);
        if (!r) return tl::unexpected(r.error());
        if (r->size() == 0) break;
        if (auto a = append_tasks(conn_, *r, out); !a) return tl::unexpected(a.error());
      }
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return out;
    });
  }

  Result<std::optional<Task>> get_task(const std::string& id) override {
    return operation([&]() -> Result<std::optional<Task>> {
      auto r = conn_.exec("get_task", kSelectTask.c_str(), {id});
      if (!r) return tl::unexpected(r.error());
      if (r->size() == 0) return std::optional<Task>();
      auto t = read_task(conn_, *r, 0);
      if (!t) return tl::unexpected(t.error());
      return std::optional<Task>(std::move(*t));
    });
  }

  Result<void> update_task(const Task& task) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "update_task");
      if (!tx) return tl::unexpected(tx.error());
      if (auto r = write_task(task, task.state, "update_task"); !r) return r;
      if (auto f = FINSYNC_FAILPOINT("state.inside_task_write"); !f) return f;
      return tx->commit();
    });
  }

  Result<void> update_tasks(const std::vector<Task>& tasks) override {
    if (tasks.empty()) return {};
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "update_tasks");
      if (!tx) return tl::unexpected(tx.error());
      for (size_t begin = 0; begin < tasks.size(); begin += kInsertChunk) {
        const size_t n = std::min(kInsertChunk, tasks.size() - begin);
        std::vector<Param> params;
        params.reserve(n * kUpdateParams);
        for (size_t i = begin; i < begin + n; ++i) {
          std::vector<Param> p = update_task_params(tasks[i], tasks[i].state);
          params.insert(params.end(), std::make_move_iterator(p.begin()),
                        std::make_move_iterator(p.end()));
        }
        const std::string sql = update_tasks_sql(n);
        auto r = conn_.exec("update_tasks", sql.c_str(), params);
        if (!r) return tl::unexpected(r.error());
        if (r->affected() == int64_t(n)) continue;
        // Rare: name the first task that is not there; the transaction rolls back.
        for (size_t i = begin; i < begin + n; ++i) {
          auto q = conn_.exec("update_tasks", "SELECT 1 FROM tasks WHERE id = $1", {tasks[i].id});
          if (!q) return tl::unexpected(q.error());
          if (q->size() == 0)
            return fail(ErrorKind::not_found, fmt::format("{}: update_tasks: no task with id {}",
                                                          conn_.label(), tasks[i].id));
        }
        return fail(
            ErrorKind::invalid_input,
            fmt::format("{}: update_tasks: the same task id twice in one batch", conn_.label()));
      }
      if (auto f = FINSYNC_FAILPOINT("state.inside_task_write"); !f) return f;
      return tx->commit();
    });
  }

  Result<void> split_task(const Task& parent, const std::vector<Task>& children) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "split_task");
      if (!tx) return tl::unexpected(tx.error());
      if (auto r = write_task(parent, TaskState::split, "split_task"); !r) return r;
      if (auto r = insert_tasks(children, &parent.id, "split_task"); !r) {
        return tl::unexpected(r.error());
      }
      return tx->commit();
    });
  }

  Result<bool> merge_tasks(const std::vector<Task>& parts, const Task& merged) override {
    return operation([&]() -> Result<bool> {
      auto tx = Transaction::begin(conn_, "merge_tasks");
      if (!tx) return tl::unexpected(tx.error());
      for (const auto& p : parts) {
        auto r = conn_.exec("merge_tasks",
                            "UPDATE tasks SET state = 'split', updated_at = $2 "
                            "WHERE id = $1 AND state = 'pending'",
                            {p.id, now_micros()});
        if (!r) return tl::unexpected(r.error());
        if (r->affected() == 0) return false;  // taken or done meanwhile: rolled back
      }
      auto added = insert_tasks({merged}, nullptr, "merge_tasks");
      if (!added) return tl::unexpected(added.error());
      if (*added == 0) return false;
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return true;
    });
  }

  Result<std::vector<Task>> claim_tasks(const std::vector<std::string>& ids,
                                        const std::string& holder, TimePoint now,
                                        TimePoint until) override {
    if (ids.empty()) return std::vector<Task>();
    return operation([&]() -> Result<std::vector<Task>> {
      auto tx = Transaction::begin(conn_, "claim_tasks");
      if (!tx) return tl::unexpected(tx.error());
      auto r =
          conn_.exec("claim_tasks", kClaimTasks.c_str(),
                     {json_array(ids), holder, to_micros(now), to_micros(until), now_micros()});
      if (!r) return tl::unexpected(r.error());
      auto tasks = read_tasks(conn_, *r);
      if (!tasks) return tasks;
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return tasks;
    });
  }

  Result<int64_t> renew_leases(const std::string& holder, TimePoint until) override {
    return operation([&]() -> Result<int64_t> {
      auto tx = Transaction::begin(conn_, "renew_leases");
      if (!tx) return tl::unexpected(tx.error());
      auto r =
          conn_.exec("renew_leases", "UPDATE tasks SET lease_until = $2 WHERE lease_holder = $1",
                     {holder, to_micros(until)});
      if (!r) return tl::unexpected(r.error());
      auto w = conn_.exec("renew_leases", "UPDATE plans SET writer_until = $2 WHERE writer = $1",
                          {holder, to_micros(until)});
      if (!w) return tl::unexpected(w.error());
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return r->affected();
    });
  }

  Result<void> release_leases(const std::string& holder) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "release_leases");
      if (!tx) return tl::unexpected(tx.error());
      auto r = conn_.exec(
          "release_leases",
          "UPDATE tasks SET state = CASE WHEN state = 'running' THEN 'pending' ELSE state END, "
          "lease_holder = '', lease_until = NULL, updated_at = $2 WHERE lease_holder = $1",
          {holder, now_micros()});
      if (!r) return tl::unexpected(r.error());
      auto w = conn_.exec("release_leases",
                          "UPDATE plans SET writer = '', writer_until = NULL WHERE writer = $1",
                          {holder});
      if (!w) return tl::unexpected(w.error());
      return tx->commit();
    });
  }

  Result<int64_t> expire_leases(const std::string& plan, TimePoint now) override {
    return operation([&]() -> Result<int64_t> {
      auto tx = Transaction::begin(conn_, "expire_leases");
      if (!tx) return tl::unexpected(tx.error());
      auto r = conn_.exec("expire_leases",
                          "UPDATE tasks SET state = 'pending', lease_holder = '', "
                          "lease_until = NULL, updated_at = $3 WHERE plan = $1 AND "
                          "state = 'running' AND (lease_holder = '' OR lease_until IS NULL OR "
                          "lease_until <= $2)",
                          {plan, to_micros(now), now_micros()});
      if (!r) return tl::unexpected(r.error());
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return r->affected();
    });
  }

  Result<std::optional<Lease>> claim_plan_writer(const std::string& plan, const std::string& holder,
                                                 TimePoint now, TimePoint until) override {
    return operation([&]() -> Result<std::optional<Lease>> {
      auto tx = Transaction::begin(conn_, "claim_plan_writer");
      if (!tx) return tl::unexpected(tx.error());
      auto r = conn_.exec("claim_plan_writer",
                          "UPDATE plans SET writer = $2, writer_until = $4 WHERE name = $1 AND "
                          "(writer = '' OR writer = $2 OR writer_until IS NULL OR "
                          "writer_until <= $3)",
                          {plan, holder, to_micros(now), to_micros(until)});
      if (!r) return tl::unexpected(r.error());
      if (r->affected() > 0) {
        if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
        return std::optional<Lease>();
      }
      auto s = conn_.exec("claim_plan_writer",
                          "SELECT writer, writer_until FROM plans WHERE name = $1", {plan});
      if (!s) return tl::unexpected(s.error());
      if (s->size() == 0)
        return fail(ErrorKind::not_found,
                    fmt::format("{}: no plan named '{}'", conn_.label(), plan));
      Lease held{s->text(0, 0), s->is_null(0, 1) ? TimePoint{} : from_micros(s->int64(0, 1))};
      if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
      return std::optional<Lease>(std::move(held));
    });
  }

  Result<void> put_run(const RunRecord& run) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "put_run");
      if (!tx) return tl::unexpected(tx.error());
      auto r = conn_.exec(
          "put_run",
          "INSERT INTO runs(id, plan, kind, status, started_at, finished_at, tasks_total, "
          "tasks_succeeded, tasks_failed, tasks_dead, tasks_skipped, tasks_split, rows, bytes, "
          "requests, retries, rate_limited, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
          "$10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (id) DO UPDATE SET "
          "plan = excluded.plan, kind = excluded.kind, status = excluded.status, "
          "started_at = excluded.started_at, finished_at = excluded.finished_at, "
          "tasks_total = excluded.tasks_total, tasks_succeeded = excluded.tasks_succeeded, "
          "tasks_failed = excluded.tasks_failed, tasks_dead = excluded.tasks_dead, "
          "tasks_skipped = excluded.tasks_skipped, tasks_split = excluded.tasks_split, "
          "rows = excluded.rows, bytes = excluded.bytes, requests = excluded.requests, "
          "retries = excluded.retries, rate_limited = excluded.rate_limited, "
          "error = excluded.error",
          {run.id, run.plan, run.kind, run.status, to_micros(run.started_at),
           opt_micros(run.finished_at), run.tasks_total, run.tasks_succeeded, run.tasks_failed,
           run.tasks_dead, run.tasks_skipped, run.tasks_split, run.rows, run.bytes, run.requests,
           run.retries, run.rate_limited, run.error});
      if (!r) return tl::unexpected(r.error());
      return tx->commit();
    });
  }

  Result<std::optional<RunRecord>> get_run(const std::string& id) override {
    return operation([&]() -> Result<std::optional<RunRecord>> {
      auto r = conn_.exec("get_run", kSelectRun.c_str(), {id});
      if (!r) return tl::unexpected(r.error());
      if (r->size() == 0) return std::optional<RunRecord>();
      return std::optional<RunRecord>(read_run(*r, 0));
    });
  }

  // limit <= 0: every run (LIMIT NULL).
  Result<std::vector<RunRecord>> list_runs(const std::string& plan, int limit) override {
    return operation([&]() -> Result<std::vector<RunRecord>> {
      const std::optional<int64_t> lim =
          limit > 0 ? std::optional<int64_t>(limit) : std::optional<int64_t>();
      // Two statements rather than `$2 = '' OR plan = $2`, which would hide the index on plan.
      auto r = plan.empty() ? conn_.exec("list_runs", kListRuns.c_str(), {lim})
                            : conn_.exec("list_runs", kListPlanRuns.c_str(), {lim, plan});
      if (!r) return tl::unexpected(r.error());
      std::vector<RunRecord> out;
      for (int i = 0; i < r->size(); ++i) out.push_back(read_run(*r, i));
      return out;
    });
  }

  Result<std::map<std::string, int32_t>> list_marks(const std::string& plan) override {
    return operation([&]() -> Result<std::map<std::string, int32_t>> {
      auto r = conn_.exec("list_marks", "SELECT param_set, day FROM marks WHERE plan = $1", {plan});
      if (!r) return tl::unexpected(r.error());
      std::map<std::string, int32_t> out;
      for (int i = 0; i < r->size(); ++i) out[r->text(i, 0)] = int32_t(r->int64(i, 1));
      return out;
    });
  }

  Result<void> advance_marks(const std::string& plan,
                             const std::map<std::string, int32_t>& marks) override {
    return operation([&]() -> Result<void> {
      auto tx = Transaction::begin(conn_, "advance_marks");
      if (!tx) return tl::unexpected(tx.error());
      const int64_t now = now_micros();
      for (const auto& [set, day] : marks) {
        auto r = conn_.exec(
            "advance_marks",
            "INSERT INTO marks(plan, param_set, day, updated_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (plan, param_set) DO UPDATE SET day = excluded.day, "
            "updated_at = excluded.updated_at WHERE excluded.day > marks.day",
            {plan, set, int64_t{day}, now});
        if (!r) return tl::unexpected(r.error());
      }
      return tx->commit();
    });
  }

  Result<void> clear_marks(const std::string& plan) override {
    return operation([&]() -> Result<void> {
      auto r = conn_.exec("clear_marks", "DELETE FROM marks WHERE plan = $1", {plan});
      if (!r) return tl::unexpected(r.error());
      return {};
    });
  }

  int schema_version() const override { return version_; }

 private:
  // Serialises calls on the one connection. A server restart is noticed by the first statement
  // after it; when that statement was the operation's first (a BEGIN or a lone SELECT), nothing
  // happened, so the operation runs once more on a new connection instead of failing.
  template <class F>
  auto operation(F&& f) -> decltype(f()) {
    std::lock_guard lock(mu_);
    if (auto r = conn_.ensure(); !r) return tl::unexpected(r.error());
    conn_.start_operation();
    auto result = f();
    if (!result && conn_.lost_before_anything()) {
      if (auto r = conn_.ensure(); !r) return tl::unexpected(r.error());
      conn_.start_operation();
      result = f();
    }
    return result;
  }

  // Inside a transaction. `parent` overrides each task's parent (split children).
  Result<int64_t> insert_tasks(const std::vector<Task>& tasks, const std::string* parent,
                               std::string_view op) {
    const int64_t now = now_micros();
    int64_t added = 0;
    for (size_t begin = 0; begin < tasks.size(); begin += kInsertChunk) {
      const size_t n = std::min(kInsertChunk, tasks.size() - begin);
      std::vector<Param> params;
      params.reserve(n * kInsertTaskParams);
      for (size_t i = begin; i < begin + n; ++i) {
        const Task& t = tasks[i];
        params.insert(params.end(),
                      {t.id, t.plan, t.params_json, int64_t{t.start_day}, int64_t{t.end_day},
                       to_string(t.state), int64_t{t.attempts}, t.rows, t.bytes, t.duration_ms,
                       t.requests, t.last_error, opt_micros(t.resume_at),
                       parent != nullptr ? *parent : t.parent, t.run_id, now});
      }
      const std::string sql = insert_tasks_sql(n, '$');
      auto r = conn_.exec(op, sql.c_str(), params);
      if (!r) return tl::unexpected(r.error());
      added += r->affected();
    }
    return added;
  }

  // Inside a transaction: writes the mutable fields of an existing task.
  Result<void> write_task(const Task& t, TaskState state, std::string_view op) {
    auto r = conn_.exec(op, kUpdateTask, update_task_params(t, state));
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 0) {
      return fail(ErrorKind::not_found,
                  fmt::format("{}: {}: no task with id {}", conn_.label(), op, t.id));
    }
    return {};
  }

  std::mutex mu_;
  Conn conn_;
  int version_;
  PostgresStateOptions options_;
};

}  // namespace

namespace detail {

Result<int> migrate_postgres_state(const PostgresStateOptions& options, int version) {
  if (version < 1 || version > latest_version()) {
    return fail(ErrorKind::invalid_input, fmt::format("schema version {} is not between 1 and {}",
                                                      version, latest_version()));
  }
  auto opened = open_conn(options, version);
  if (!opened) return tl::unexpected(opened.error());
  return opened->second;
}

}  // namespace detail

Result<void> update_task_on(PGconn* conn, const std::string& schema, const Task& task) {
  // kUpdateTask names the table unqualified, as the store's own connection has search_path set
  // to the schema; SET LOCAL does the same for the rest of the caller's transaction.
  const std::vector<Param> params = update_task_params(task, task.state);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  const char* schema_value = schema.c_str();
  auto run = [&](const char* sql, int n, const char* const* v) {
    return Rows(PQexecParams(conn, sql, n, nullptr, v, nullptr, nullptr, 0));
  };
  auto failed = [&](const Rows& r, std::string_view what) {
    const char* m = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
    const char* code = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
    ErrorKind kind = pg::error_kind(code != nullptr ? code : "");
    // Lost in the middle of the caller's transaction: the caller re-runs it whole.
    if (PQstatus(conn) != CONNECTION_OK) kind = ErrorKind::transient;
    return Error{kind,
                 fmt::format("state store (schema {}): {}: {}", schema, what,
                             m != nullptr ? m : PQerrorMessage(conn)),
                 std::nullopt};
  };
  Rows path = run("SELECT set_config('search_path', quote_ident($1), true)", 1, &schema_value);
  if (!path.ok()) return fail(failed(path, "update_task_on"));
  Rows r = run(kUpdateTask, int(values.size()), values.data());
  if (!r.ok()) return fail(failed(r, "update_task_on"));
  if (r.affected() == 0)
    return fail(ErrorKind::not_found,
                fmt::format("state store (schema {}): update_task_on: no task with id {}", schema,
                            task.id));
  if (auto f = FINSYNC_FAILPOINT("state.inside_task_write"); !f) return f;
  return {};
}

Result<std::unique_ptr<StateStore>> open_postgres_state(const PostgresStateOptions& options) {
  auto opened = open_conn(options, latest_version());
  if (!opened) return tl::unexpected(opened.error());
  return std::unique_ptr<StateStore>(
      std::make_unique<PostgresStateStore>(std::move(opened->first), opened->second, options));
}

}  // namespace finsync::state
