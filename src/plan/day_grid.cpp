#include "plan/day_grid.hpp"

#include <algorithm>

#include "plan/planner.hpp"

namespace finsync::plan {

DayGrid::DayGrid(const TradingCalendar& cal, int32_t start, int32_t end) {
  for (auto d = cal.first_open_on_or_after(start, end); d;
       d = cal.first_open_on_or_after(*d + 1, end))
    days_.push_back(*d);
}

size_t DayGrid::lower(int32_t d) const {
  return size_t(std::lower_bound(days_.begin(), days_.end(), d) - days_.begin());
}

size_t DayGrid::upper(int32_t d) const {
  return size_t(std::upper_bound(days_.begin(), days_.end(), d) - days_.begin());
}

std::pair<size_t, size_t> DayGrid::life(const Symbol& s) const {
  const size_t lo = s.list_day ? lower(*s.list_day) : 0;
  const size_t hi = s.delist_day ? lower(*s.delist_day) : days_.size();
  return {lo, std::max(lo, hi)};
}

ActiveCounts::ActiveCounts(const DayGrid& grid, const std::vector<const Symbol*>& symbols)
    : diff_(grid.size() + 1, 0) {
  for (const Symbol* s : symbols) {
    auto [lo, hi] = grid.life(*s);
    add(lo, hi);
  }
  finish();
}

void ActiveCounts::add(size_t lo, size_t hi) {
  if (hi <= lo) return;
  diff_[lo] += 1;
  diff_[hi] -= 1;
}

void ActiveCounts::finish() {
  prefix_.assign(diff_.size(), 0);
  int64_t level = 0;
  for (size_t i = 0; i + 1 < diff_.size(); ++i) {
    level += diff_[i];
    prefix_[i + 1] = prefix_[i] + level;
  }
}

}  // namespace finsync::plan
