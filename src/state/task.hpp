#pragma once
// A task is one unit of work cut from a plan: one parameter set over one time window. Tasks are
// persisted; they are the unit of progress, retry and resumption.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace finsync::state {

// pending -> running -> succeeded | failed (retry scheduled) | parked (resume_at) | paused
// | cancelled | dead (attempts exhausted or permanent error) | split (replaced by children after
// a response hit the row cap).
enum class TaskState {
  pending,
  running,
  succeeded,
  failed,
  parked,
  paused,
  cancelled,
  dead,
  split
};

std::string_view to_string(TaskState s);
std::optional<TaskState> parse_task_state(std::string_view s);
bool can_transition(TaskState from, TaskState to);
bool is_terminal(TaskState s);

struct Task {
  std::string id;  // stable: plan + params + window, so re-planning finds it again
  std::string plan;
  std::string params_json;  // the parameter set, e.g. {"ts_code":"000001.SZ"}
  int32_t start_day = 0;    // window, days since 1970-01-01, inclusive
  int32_t end_day = 0;
  TaskState state = TaskState::pending;
  int attempts = 0;
  int64_t rows = 0;
  int64_t bytes = 0;
  int64_t duration_ms = 0;
  int64_t requests = 0;
  std::string last_error;
  std::optional<TimePoint> resume_at;
  std::string parent;  // id of the task this one was split from
  std::string run_id;  // run that last touched it
  // The process working on it and until when, unless renewed; empty/nullopt: nobody. Written by
  // the lease calls only; update_task clears it when the task leaves `running`.
  std::string lease_holder;
  std::optional<TimePoint> lease_until;
  // Page checkpoint of a paginated task: where its next page starts ("": page one). `rows` and
  // `bytes` count the pages landed before it.
  std::string page_cursor;
};

// The INSERT both stores add tasks with: `n` rows of kInsertTaskParams parameters each, in the
// order id, plan, params_json, start_day, end_day, state, attempts, rows, bytes, duration_ms,
// requests, last_error, resume_at, parent, run_id, updated_at; a known id is left as it is.
// `mark` prefixes a parameter's number: '$' for PostgreSQL, '?' for SQLite.
inline constexpr int kInsertTaskParams = 16;
std::string insert_tasks_sql(size_t n, char mark);

}  // namespace finsync::state
