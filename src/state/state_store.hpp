#pragma once
// Plans, tasks, runs. SQLite (WAL) is the embedded default; the interface is what a shared
// PostgreSQL store implements for several workers.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "ratelimit/ledger.hpp"
#include "state/task.hpp"

namespace finsync::state {

struct PlanRecord {
  std::string name;
  std::string spec_yaml;      // the plan as the user last gave it
  std::string fingerprint;    // provider/endpoint/sink/mode: a change needs --replan
  std::string universe_json;  // resolved parameter sets, fixed at first run
  // What the user asked of the plan from the CLI: "" (run), "paused" or "cancelled". A running
  // process polls it; put_plan never changes it.
  std::string control;
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct RunRecord {
  std::string id;
  std::string plan;
  std::string kind = "backfill";
  std::string status = "running";  // running | succeeded | failed | interrupted | parked
  TimePoint started_at{};
  std::optional<TimePoint> finished_at;
  int64_t tasks_total = 0;
  int64_t tasks_succeeded = 0;
  int64_t tasks_failed = 0;
  int64_t tasks_dead = 0;
  int64_t tasks_skipped = 0;  // already done before this run
  int64_t tasks_split = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t requests = 0;
  int64_t retries = 0;
  int64_t rate_limited = 0;
  std::string error;
};

// Who holds a lease and until when.
struct Lease {
  std::string holder;
  TimePoint until{};
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  virtual Result<std::optional<PlanRecord>> get_plan(const std::string& name) = 0;
  virtual Result<std::vector<PlanRecord>> list_plans() = 0;
  virtual Result<void> put_plan(const PlanRecord& plan) = 0;
  // not_found when no such plan.
  virtual Result<void> set_plan_control(const std::string& name, const std::string& control) = 0;
  // The plan with its tasks and runs, in one transaction; false when there was no such plan.
  virtual Result<bool> remove_plan(const std::string& name) = 0;

  // Inserts tasks whose id is not present yet; returns how many were new.
  virtual Result<int64_t> add_tasks(const std::vector<Task>& tasks) = 0;
  virtual Result<std::vector<Task>> list_tasks(const std::string& plan) = 0;
  virtual Result<std::optional<Task>> get_task(const std::string& id) = 0;
  // Writes state, counters, error and resume_at of an existing task.
  virtual Result<void> update_task(const Task& task) = 0;
  // update_task for many tasks (distinct ids) in one transaction: all are written or none
  // (not_found when one is not in the store).
  virtual Result<void> update_tasks(const std::vector<Task>& tasks) = 0;
  // Atomically marks `parent` split and inserts its children.
  virtual Result<void> split_task(const Task& parent, const std::vector<Task>& children) = 0;
  // Atomically marks `parts` split and inserts `merged` (one wider window over them), only if
  // every part is still pending and `merged`'s id is new; false (nothing changed) otherwise.
  virtual Result<bool> merge_tasks(const std::vector<Task>& parts, const Task& merged) = 0;

  // Leases. Times are the caller's clock: processes sharing a store need synchronised clocks.
  // Claims each of `ids` that may run (pending, failed, parked or running) and whose lease is
  // free (none, expired at `now`, or `holder`'s own): it becomes running, leased to `holder`
  // until `until`. Returns the claimed tasks as stored; ids another live holder leases, done or
  // unknown are left out. Two holders never both claim one task.
  virtual Result<std::vector<Task>> claim_tasks(const std::vector<std::string>& ids,
                                                const std::string& holder, TimePoint now,
                                                TimePoint until) = 0;
  // Moves every lease `holder` has (tasks and plan writers) to `until`; returns how many tasks.
  virtual Result<int64_t> renew_leases(const std::string& holder, TimePoint until) = 0;
  // Ends every lease of `holder`: its running tasks go back to pending, its plan writer leases
  // are free.
  virtual Result<void> release_leases(const std::string& holder) = 0;
  // Tasks of `plan` left running without a live lease at `now` (their holder died) go back to
  // pending; returns how many. A running task of a live holder stays as it is.
  virtual Result<int64_t> expire_leases(const std::string& plan, TimePoint now) = 0;
  // The plan's writer lease, for sinks that take one writer: taken (or renewed) when free,
  // expired at `now` or `holder`'s own, and nullopt returned; otherwise the lease that holds it.
  // not_found when no such plan.
  virtual Result<std::optional<Lease>> claim_plan_writer(const std::string& plan,
                                                         const std::string& holder, TimePoint now,
                                                         TimePoint until) = 0;

  virtual Result<void> put_run(const RunRecord& run) = 0;  // insert or update
  virtual Result<std::optional<RunRecord>> get_run(const std::string& id) = 0;

  // High-water marks of a plan's parameter sets (Task::params_json -> the last day landed
  // after its publication). advance_marks only moves a mark forward; clear_marks forgets them
  // (a plan planned again from scratch).
  virtual Result<std::map<std::string, int32_t>> list_marks(const std::string& plan) = 0;
  virtual Result<void> advance_marks(const std::string& plan,
                                     const std::map<std::string, int32_t>& marks) = 0;
  virtual Result<void> clear_marks(const std::string& plan) = 0;
  // Newest first; empty plan = all plans.
  virtual Result<std::vector<RunRecord>> list_runs(const std::string& plan, int limit) = 0;

  // The quota ledger in the same database, on a connection of its own.
  virtual Result<std::unique_ptr<ratelimit::LedgerStore>> open_ledger() = 0;

  virtual int schema_version() const = 0;
};

// path: the SQLite file; created with every migration applied, an older one migrated forward.
Result<std::unique_ptr<StateStore>> open_sqlite_state(const std::string& path);

struct PostgresStateOptions {
  std::string dsn;       // libpq URI or keyword/value string; may hold a percent-encoded password
  std::string password;  // overrides a password in the dsn; empty: the dsn's, or PGPASSWORD
  std::string schema = "finsync";
  bool create = true;  // false: a schema without a store is not_found instead of being created
};

// Several processes (and machines) may share one schema; it is created on first open and an
// older one migrated forward, under an advisory lock.
Result<std::unique_ptr<StateStore>> open_postgres_state(const PostgresStateOptions& options);

}  // namespace finsync::state
