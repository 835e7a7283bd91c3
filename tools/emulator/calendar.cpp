#include "calendar.hpp"

#include <algorithm>

#include "dates.hpp"

namespace emu {

namespace {

// First `count` weekdays on or after `start` (day numbers), as [first, last] day numbers.
struct Block {
  int first;
  int last;
};

Block weekday_block(int start, int count) {
  int d = start;
  while (weekday_from_days(d) == 0 || weekday_from_days(d) == 6) ++d;
  const int first = d;
  int last = d;
  for (int n = 0; n < count; ++d) {
    if (weekday_from_days(d) != 0 && weekday_from_days(d) != 6) {
      last = d;
      ++n;
    }
  }
  return {first, last};
}

}  // namespace

bool Calendar::is_holiday(int days) {
  const Civil c = civil_from_days(days);
  if (c.m == 1 && c.d == 1) return true;
  // Spring festival: five weekdays from a year-dependent anchor between Jan 21 and Feb 19.
  if (c.m == 1 || c.m == 2) {
    const int anchor = days_from_civil(c.y, 1, 21) + (c.y * 11) % 30;
    const Block b = weekday_block(anchor, 5);
    if (days >= b.first && days <= b.last) return true;
  }
  // National day: the first five weekdays from October 1.
  if (c.m == 10) {
    const Block b = weekday_block(days_from_civil(c.y, 10, 1), 5);
    if (days >= b.first && days <= b.last) return true;
  }
  return false;
}

Calendar::Calendar() {
  const int first = days_from_ymd(kFirstYmd);
  const int last = days_from_ymd(kLastYmd);
  // Start a month early so the first days of 1990 have a pretrade_date.
  int last_open_ymd = 0;
  for (int d = first - 40; d <= last; ++d) {
    const int wd = weekday_from_days(d);
    const bool open = wd != 0 && wd != 6 && !is_holiday(d);
    const int ymd = ymd_from_days(d);
    if (d >= first) {
      days_.push_back(Day{ymd, d, open, last_open_ymd});
      if (open) {
        open_days_.push_back(d);
        open_ymd_.push_back(ymd);
      }
    }
    if (open) last_open_ymd = ymd;
  }
}

std::size_t Calendar::open_lower_bound(int ymd) const {
  return static_cast<std::size_t>(std::lower_bound(open_ymd_.begin(), open_ymd_.end(), ymd) -
                                  open_ymd_.begin());
}

std::size_t Calendar::open_upper_bound(int ymd) const {
  return static_cast<std::size_t>(std::upper_bound(open_ymd_.begin(), open_ymd_.end(), ymd) -
                                  open_ymd_.begin());
}

std::size_t Calendar::day_lower_bound(int ymd) const {
  return static_cast<std::size_t>(
      std::lower_bound(days_.begin(), days_.end(), ymd,
                       [](const Day& day, int value) { return day.ymd < value; }) -
      days_.begin());
}

}  // namespace emu
