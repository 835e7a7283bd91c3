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

// Day number of the n-th (1-based) given weekday of a month; n = -1 is the last one.
int nth_weekday(int y, int m, int weekday, int n) {
  if (n < 0) {
    int d = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
    do --d;
    while (weekday_from_days(d) != weekday);
    return d;
  }
  int d = days_from_civil(y, m, 1);
  while (weekday_from_days(d) != weekday) ++d;
  return d + 7 * (n - 1);
}

// Easter Sunday (anonymous Gregorian algorithm), as a day number.
int easter(int y) {
  const int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4;
  const int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
  return days_from_civil(y, month, day);
}

// A fixed-date holiday as observed: Saturday moves to Friday, Sunday to Monday.
bool observed(int days, int y, int m, int d) {
  const int h = days_from_civil(y, m, d);
  const int wd = weekday_from_days(h);
  return days == (wd == 6 ? h - 1 : wd == 0 ? h + 1 : h);
}

}  // namespace

bool Calendar::is_us_holiday(int days) {
  const Civil c = civil_from_days(days);
  const int y = c.y;
  // New Year's Day on a Saturday is not moved back into December (the NYSE rule).
  if (days == days_from_civil(y, 1, 1) || (weekday_from_days(days) == 1 && c.m == 1 && c.d == 2))
    return true;
  return days == nth_weekday(y, 1, 1, 3)             // Martin Luther King Jr. Day
         || days == nth_weekday(y, 2, 1, 3)          // Washington's Birthday
         || days == easter(y) - 2                    // Good Friday
         || days == nth_weekday(y, 5, 1, -1)         // Memorial Day
         || (y >= 2022 && observed(days, y, 6, 19))  // Juneteenth
         || observed(days, y, 7, 4)                  // Independence Day
         || days == nth_weekday(y, 9, 1, 1)          // Labor Day
         || days == nth_weekday(y, 11, 4, 4)         // Thanksgiving
         || observed(days, y, 12, 25);               // Christmas
}

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

Calendar::Calendar(Rules rules) {
  const auto holiday = rules == Rules::china ? &Calendar::is_holiday : &Calendar::is_us_holiday;
  const int first = days_from_ymd(kFirstYmd);
  const int last = days_from_ymd(kLastYmd);
  // Start a month early so the first days of 1990 have a pretrade_date.
  int last_open_ymd = 0;
  for (int d = first - 40; d <= last; ++d) {
    const int wd = weekday_from_days(d);
    const bool open = rules == Rules::every_day || (wd != 0 && wd != 6 && !holiday(d));
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
