#pragma once
// What a running backfill needs of its plan while answers come in: dropping the rows of symbols
// outside the universe from answers by date, re-splitting a task whose answer hit the row cap,
// and widening the next windows after an answer far under it.
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"
#include "plan/calendar.hpp"
#include "plan/planner.hpp"
#include "state/task.hpp"

namespace finsync::plan {

// Pending tasks of one parameter set replaced by one task over their windows.
struct Widening {
  state::Task merged;
  std::vector<state::Task> parts;  // in window order
};

class CutRules {
 public:
  struct Options {
    std::string symbol_param;
    int64_t max_rows = 0;
    int64_t rows_per_day = 1;
    int64_t list_max = 0;  // symbols per request; below 2 the endpoint takes no lists
    // Windows were sized from estimates (`window: auto`), so an answer may widen them.
    bool widen = false;
  };

  CutRules() = default;
  CutRules(const TradingCalendar* calendar, std::vector<Symbol> universe, Options options);

  // The children of a task whose answer hit the row cap: halves of its window; one day of a
  // list, halves of the list; one day of every symbol, the universe's symbols trading that day
  // in lists (or one by one). An error when it cannot be split.
  Result<std::vector<state::Task>> split_capped(const state::Task& task) const;

  // After `done` answered with `rows` rows, far under the cap (a quarter or less): the next
  // pending windows of its parameter set in `queue` (never tried, contiguous) merged into one,
  // at most four times `done`'s trading days and expected, at `done`'s density, to fill at most
  // half the cap. Nothing when fewer than two windows would merge. Looks at the first 50,000
  // queued tasks.
  std::optional<Widening> widen_after(const state::Task& done, int64_t rows,
                                      const std::deque<state::Task>& queue) const;

  // The rows whose `column` names a universe symbol of generation `gen` or older.
  RecordBatch keep_universe(const RecordBatch& batch, int column, int32_t gen) const;

 private:
  const TradingCalendar* cal_ = nullptr;
  std::vector<Symbol> universe_;  // by code
  std::unordered_map<std::string, int32_t> gens_;
  Options o_;
};

}  // namespace finsync::plan
