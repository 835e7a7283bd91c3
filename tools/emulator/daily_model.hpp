// Daily bars: every value is a pure function of (seed, ts_code, date), never a running walk.
#pragma once

#include <cstddef>
#include <cstdint>

#include "calendar.hpp"
#include "universe.hpp"

namespace emu {

// When a day's bars appear and which vendor revision of the values is served.
struct Release {
  // Minutes after local midnight at which a day's bars are published; before that the day (and
  // every later one) has no rows. -1: every day up to last_date is published.
  int publish_minutes = -1;
  int utc_offset_minutes = 480;  // the local time of publish_minutes: Asia/Shanghai's +08:00
  // Revision N > 0 changes vol and amount of about half the rows on or after revised_from, as a
  // vendor's correction would; revision 0 is the data as first published.
  int revision = 0;
  int revised_from = 0;
};

// All money-like values are integers in hundredths (cents, or hundredths of a percent).
struct Bar {
  int trade_date;  // YYYYMMDD
  std::int64_t open, high, low, close, pre_close, change, pct_chg, vol, amount;
};

class DailyModel {
 public:
  // Rows exist only up to and including last_date.
  DailyModel(const Calendar& calendar, int last_date, Release release = {});

  // True if the stock has a row on the open day with open index `i`.
  bool has_row(const Stock& s, std::size_t i) const;
  // The row on open index `i`; requires has_row(s, i).
  Bar bar(const Stock& s, std::size_t i) const { return bar(s, i, nullptr, nullptr); }
  // The same, faster when walking a stock's rows backwards: `known_close`, if not null, is the
  // close on `i` (from an earlier call's pre_close); `previous`, if not null, receives the open
  // index of the previous row (`i` itself if there is none).
  Bar bar(const Stock& s, std::size_t i, const std::int64_t* known_close,
          std::size_t* previous) const;

  // Open-index range [begin, end) in which the stock may have rows, clipped to [lo, hi] dates.
  std::size_t range_begin(const Stock& s, int lo_ymd) const;
  std::size_t range_end(const Stock& s, int hi_ymd) const;

  static bool suspended(const Stock& s, int ymd);
  // The last day published at the wall clock's current time (YYYYMMDD).
  int published_through() const;

 private:
  std::int64_t close_raw(const Stock& s, int day_number) const;

  const Calendar& cal_;
  std::size_t end_open_;
  Release release_;
};

// Rounds num/den (den > 0) to the nearest integer, halves away from zero.
std::int64_t div_round(std::int64_t num, std::int64_t den);

}  // namespace emu
