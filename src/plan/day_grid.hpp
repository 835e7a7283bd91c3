#pragma once
// The open days of a plan's range, indexed, and how many symbols trade on each: the row density
// the planner sizes requests by. A symbol trades from its listing date until the day before its
// delisting date; suspensions are not known in advance, so counts are upper bounds.
#include <cstdint>
#include <utility>
#include <vector>

#include "plan/calendar.hpp"

namespace finsync::plan {

struct Symbol;

class DayGrid {
 public:
  DayGrid(const TradingCalendar& calendar, int32_t start, int32_t end);

  size_t size() const { return days_.size(); }
  int32_t day(size_t i) const { return days_[i]; }
  size_t lower(int32_t d) const;  // index of the first open day >= d (size() if none)
  size_t upper(int32_t d) const;  // index of the first open day > d
  // Indices [lo, hi) of the open days on which `s` trades.
  std::pair<size_t, size_t> life(const Symbol& s) const;

 private:
  std::vector<int32_t> days_;
};

// Symbols trading on each open day of a grid, with sums over index ranges.
class ActiveCounts {
 public:
  ActiveCounts() = default;
  ActiveCounts(const DayGrid& grid, const std::vector<const Symbol*>& symbols);
  // Adds one symbol per day of each index range [lo, hi); then call finish().
  explicit ActiveCounts(size_t days) : diff_(days + 1, 0) {}
  void add(size_t lo, size_t hi);
  void finish();

  int64_t on(size_t i) const { return prefix_[i + 1] - prefix_[i]; }
  int64_t sum(size_t lo, size_t hi) const { return hi > lo ? prefix_[hi] - prefix_[lo] : 0; }

 private:
  std::vector<int64_t> diff_;
  std::vector<int64_t> prefix_;  // prefix_[i] = symbol-days on indices [0, i)
};

}  // namespace finsync::plan
