#include "state/task.hpp"

#include <fmt/format.h>

namespace finsync::state {

std::string_view to_string(TaskState s) {
  switch (s) {
    case TaskState::pending:
      return "pending";
    case TaskState::running:
      return "running";
    case TaskState::succeeded:
      return "succeeded";
    case TaskState::failed:
      return "failed";
    case TaskState::parked:
      return "parked";
    case TaskState::paused:
      return "paused";
    case TaskState::cancelled:
      return "cancelled";
    case TaskState::dead:
      return "dead";
    case TaskState::split:
      return "split";
  }
  return "pending";
}

std::optional<TaskState> parse_task_state(std::string_view s) {
  for (TaskState t : {TaskState::pending, TaskState::running, TaskState::succeeded,
                      TaskState::failed, TaskState::parked, TaskState::paused, TaskState::cancelled,
                      TaskState::dead, TaskState::split}) {
    if (to_string(t) == s) return t;
  }
  return std::nullopt;
}

bool can_transition(TaskState from, TaskState to) {
  using S = TaskState;
  switch (from) {
    case S::pending:
      return to == S::running || to == S::paused || to == S::cancelled || to == S::dead;
    case S::running:
      // pending: the process was interrupted or lost its lease; split: replaced by children.
      return to == S::succeeded || to == S::failed || to == S::parked || to == S::pending ||
             to == S::dead || to == S::split || to == S::cancelled || to == S::paused;
    case S::failed:
      return to == S::running || to == S::pending || to == S::paused || to == S::cancelled ||
             to == S::dead;
    case S::parked:
      return to == S::pending || to == S::running || to == S::paused || to == S::cancelled;
    case S::paused:
      return to == S::pending || to == S::cancelled;
    // Terminal states leave only through an explicit retry / re-fetch back to pending.
    case S::dead:
      return to == S::pending;
    case S::cancelled:
      return to == S::pending;
    case S::succeeded:
      return to == S::pending;  // re-fetch, e.g. provisional data
    case S::split:
      return false;  // the children carry the work now
  }
  return false;
}

bool is_terminal(TaskState s) {
  return s == TaskState::succeeded || s == TaskState::cancelled || s == TaskState::dead ||
         s == TaskState::split;
}

std::string insert_tasks_sql(size_t n, char mark) {
  std::string sql =
      "INSERT INTO tasks(id, plan, params_json, start_day, end_day, state, attempts, rows, bytes, "
      "duration_ms, requests, last_error, resume_at, parent, run_id, updated_at) VALUES ";
  for (size_t i = 0; i < n; ++i) {
    sql += i == 0 ? "(" : ", (";
    for (int j = 1; j <= kInsertTaskParams; ++j) {
      if (j > 1) sql += ", ";
      sql += fmt::format("{}{}", mark, i * kInsertTaskParams + static_cast<size_t>(j));
    }
    sql += ")";
  }
  return sql + " ON CONFLICT (id) DO NOTHING";
}

}  // namespace finsync::state
