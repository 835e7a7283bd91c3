#pragma once
// The planner cuts a plan into tasks, each one request small enough that its expected rows stay
// under the endpoint's row cap, on trading days only. Where the endpoint allows several ways to
// cut (strategies), it prices each and takes the one that needs the fewest requests:
// - symbol_window: one symbol per request, over windows of trading days;
// - symbol_list: several symbols per request (a comma-separated list), over windows sized by
//   how many of them trade on each day;
// - date_all_symbols: one request per trading day returns every symbol of the market; rows of
//   symbols outside the plan's universe are dropped. A day with more rows than the cap, and
//   symbols the market list does not hold, are cut by symbol instead.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "plan/calendar.hpp"
#include "plan/param_set.hpp"
#include "state/task.hpp"

namespace finsync::plan {

struct Symbol {
  std::string code;
  std::optional<int32_t> list_day;
  std::optional<int32_t> delist_day;
  std::string status;
  // The universe generation the symbol joined the plan in (0: its first resolution); tasks
  // over every symbol cover the generations up to theirs.
  int32_t gen = 0;
};

enum class Strategy { symbol_window, symbol_list, date_all_symbols };
std::string_view to_string(Strategy s);
std::optional<Strategy> parse_strategy(std::string_view s);

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
  // The strategies the endpoint declares, in its order (the first wins a tie), and the one the
  // plan insists on, if any.
  std::vector<Strategy> strategies = {Strategy::symbol_window};
  std::optional<Strategy> forced;
  int64_t list_max = 0;  // symbol_list: symbols per request
  // date_all_symbols: every symbol an answer by date holds, with listing dates; null when not
  // known, and the strategy is then not priced.
  const std::vector<Symbol>* market = nullptr;
  // Paginated endpoints: rows per page, so a task costs one request per page (0: one request).
  int64_t page_rows = 0;
};

struct StrategyCost {
  Strategy strategy = Strategy::symbol_window;
  int64_t tasks = 0;
  int64_t requests = 0;      // tasks, or pages of them
  int64_t rows_fetched = 0;  // expected, an upper bound
  int64_t rows_landed = 0;   // of those, rows of the plan's universe
};

struct PlanChoice {
  Strategy chosen = Strategy::symbol_window;
  std::vector<StrategyCost> costs;  // every strategy priced, in the declared order
  std::vector<state::Task> tasks;   // the chosen strategy's (the collecting choose_plan only)
  std::string note;                 // why a declared strategy was not priced
};

using TaskEmit = std::function<void(state::Task&&)>;

// Tasks covering the range for every symbol, leaving out what `existing` already covers (so an
// edited range or grown universe adds only what is missing), cut by the cheapest strategy and
// handed to `emit` one at a time in planning order: a plan of a million tasks is persisted in
// chunks and never held whole. Strategies are priced by counting what they would cut; an empty
// `emit` prices only.
PlanChoice choose_plan(const PlanInput& in, const std::vector<state::Task>& existing,
                       const TaskEmit& emit);
// The same, collecting the tasks into `tasks` (small plans, tests).
PlanChoice choose_plan(const PlanInput& in, const std::vector<state::Task>& existing);
std::vector<state::Task> plan_tasks(const PlanInput& in, const std::vector<state::Task>& existing);

// Expected rows of one task under `in`: fetched, and of those landed (rows of every symbol on
// a day for date_all_symbols tasks, of which only the universe's land).
struct TaskRows {
  int64_t fetched = 0;
  int64_t landed = 0;
};
class RowModel {
 public:
  explicit RowModel(const PlanInput& in);
  ~RowModel();
  RowModel(const RowModel&) = delete;
  RowModel& operator=(const RowModel&) = delete;
  TaskRows rows(const state::Task& t) const;
  // Requests of a task: one, or its expected pages.
  int64_t requests(const state::Task& t) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The two halves of a task whose response hit the row cap; an error if it cannot be split
// (one trading day).
Result<std::vector<state::Task>> split_in_half(const state::Task& task,
                                               const TradingCalendar& calendar);

// The universe a plan keeps after resolving it again: `fresh`, each symbol of `old` keeping its
// generation and new ones taking the next. With `keep_old` (a universe from an endpoint only
// grows) the symbols of `old` that `fresh` lacks stay too.
std::vector<Symbol> merge_universe(const std::vector<Symbol>& old, std::vector<Symbol> fresh,
                                   bool keep_old);

std::string task_id(const std::string& plan, const std::string& symbol, int32_t start, int32_t end);
std::string symbol_params_json(const std::string& param, const std::string& symbol);
// The symbol of a one-symbol parameter set ("" for none, a list or every symbol).
std::string task_symbol(const state::Task& t);

}  // namespace finsync::plan
