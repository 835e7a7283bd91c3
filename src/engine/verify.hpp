#pragma once
// `finsync verify`: the days a plan's sink holds per symbol against the trading calendar and each
// symbol's listing dates. A missing trading day is a gap, a day that should hold no row is an
// extra; a gap that a task queued by `verify --fix` fetched again and found empty is the
// provider's own (a suspension) and counts as confirmed.
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

struct DayRange {
  int32_t first = 0;
  int32_t last = 0;
  int64_t days = 0;  // trading days in it
};

struct SymbolCheck {
  std::string symbol;
  std::vector<DayRange> gaps;
  std::vector<int32_t> extra;  // landed days on which the symbol should have no row
  int64_t confirmed_empty = 0;
};

struct VerifyReport {
  int32_t first_day = 0;
  int32_t last_day = 0;
  int64_t symbols = 0;
  int64_t expected_days = 0;  // symbol-days the calendar and listings call for
  int64_t gap_days = 0;
  int64_t extra_rows = 0;
  int64_t confirmed_empty = 0;
  std::vector<SymbolCheck> issues;  // symbols with gaps or extras, in symbol order
  bool clean() const { return gap_days == 0 && extra_rows == 0; }
};

// `landed`: days per symbol from the sink; `tasks`: the plan's tasks (for confirmed gaps).
// Checks [plan start, last_day].
VerifyReport verify_landed(const config::PlanDef& plan, const std::vector<plan::Symbol>& universe,
                           const plan::TradingCalendar& calendar, int32_t last_day,
                           const std::map<std::string, std::vector<int32_t>>& landed,
                           const std::vector<state::Task>& tasks);

// One task per gap, over exactly its days, marked as a verify fix.
std::vector<state::Task> fix_tasks(const config::PlanDef& plan, const config::EndpointDef& ep,
                                   const VerifyReport& report);
bool is_fix_task(const state::Task& t);

}  // namespace finsync::engine
