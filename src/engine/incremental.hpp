#pragma once
// Keeping a plan that ends `today` current: which days are published, what each run fetches
// again (the lookback before each parameter set's high-water mark and every day after it), and
// how far the marks move once a run's tasks have landed.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/plan_def.hpp"
#include "config/provider_def.hpp"
#include "plan/calendar.hpp"
#include "plan/planner.hpp"
#include "state/task.hpp"

namespace finsync::engine {

struct DayClock {
  int32_t today = 0;      // in the endpoint's zone
  int32_t published = 0;  // the last day whose data is out: today, or yesterday before the hour
};
DayClock day_clock(const config::EndpointDef& ep, TimePoint now);

// For every parameter set with a mark: its `plan.lookback` trading days up to the mark and every
// day after it through `end`, as tasks of the same parameter set (one task per day for every
// symbol by date). A symbol delisted by the window's first day gets none.
std::vector<state::Task> refresh_tasks(const config::PlanDef& plan, const config::EndpointDef& ep,
                                       const std::map<std::string, int32_t>& marks,
                                       const std::vector<plan::Symbol>& symbols,
                                       const plan::TradingCalendar& calendar, int32_t end);

// What a run queues of the `fresh` refresh tasks, given the plan's `tasks`: the new ones (to add),
// and those of `tasks` that had succeeded or died, which are reset to pending here. A task there
// pending, failed or parked is queued anyway; a split one's children hold the window.
struct RefreshQueue {
  std::vector<state::Task> added;
  std::vector<state::Task*> again;  // into `tasks`
};
RefreshQueue queue_refresh(std::vector<state::Task> fresh, std::vector<state::Task>& tasks);

// The marks the plan's tasks vouch for: per parameter set whose tasks all succeeded, the last
// day they cover, but never past `published` (a day landed before its publication is
// provisional and does not count).
std::map<std::string, int32_t> marks_from(const std::vector<state::Task>& tasks, int32_t published);

// Tasks that landed days not published yet.
int64_t provisional_tasks(const std::vector<state::Task>& tasks, int32_t published);

}  // namespace finsync::engine
