#pragma once
// The planner cuts a plan into tasks: parameter sets (symbols) x time windows, each window small
// enough that its expected rows stay under the endpoint's row cap, on trading days only.
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "plan/calendar.hpp"
#include "state/task.hpp"

namespace finsync::plan {

struct Symbol {
  std::string code;
  std::optional<int32_t> list_day;
  std::optional<int32_t> delist_day;
  std::string status;
};

struct PlanInput {
  std::string plan;
  std::string symbol_param;     // empty: one parameter set without a symbol
  std::vector<Symbol> symbols;  // used when symbol_param is set
  int32_t start_day = 0;
  int32_t end_day = 0;
  int64_t max_rows = 0;         // 0: no cap known
  int64_t rows_per_day = 1;     // bars per trading day (intraday intervals)
  std::string window = "auto";  // auto | <n>d | <n>m | <n>y
  // One task per symbol over the whole range: the API has no window parameters.
  bool whole_range = false;
  const TradingCalendar* calendar = nullptr;
};

// Tasks covering the range for every symbol, leaving out what `existing` already covers (so an
// edited range or universe adds only what is new).
std::vector<state::Task> plan_tasks(const PlanInput& in, const std::vector<state::Task>& existing);

// The two halves of a task whose response hit the row cap; an error if it cannot be split
// (one trading day).
Result<std::vector<state::Task>> split_in_half(const state::Task& task,
                                               const TradingCalendar& calendar);

std::string task_id(const std::string& plan, const std::string& symbol, int32_t start, int32_t end);
std::string symbol_params_json(const std::string& param, const std::string& symbol);
// The symbol of a task's parameter set ("" when none).
std::string task_symbol(const state::Task& t);

}  // namespace finsync::plan
