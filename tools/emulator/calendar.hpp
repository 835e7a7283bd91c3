// An exchange trading calendar, precomputed at startup: the Chinese one (SSE and SZSE share
// it) or a NYSE-like US one (alphavantage and polygon).
#pragma once

#include <cstddef>
#include <vector>

namespace emu {

class Calendar {
 public:
  static constexpr int kFirstYmd = 19900101;
  static constexpr int kLastYmd = 20301231;

  struct Day {
    int ymd;
    int days;  // days since 1970-01-01
    bool open;
    int pretrade_ymd;  // previous open day strictly before this one
  };

  // every_day: every calendar day is open, for tests that need today to be a trading day.
  enum class Rules { china, nyse, every_day };

  explicit Calendar(Rules rules = Rules::china);

  // Every calendar day kFirstYmd..kLastYmd, ascending.
  const std::vector<Day>& days() const { return days_; }

  // Open days in range, ascending: index i is an "open index".
  std::size_t open_count() const { return open_days_.size(); }
  int open_ymd(std::size_t i) const { return open_ymd_[i]; }
  int open_day_number(std::size_t i) const { return open_days_[i]; }
  // First open index whose date is >= ymd (open_count() if none).
  std::size_t open_lower_bound(int ymd) const;
  // First open index whose date is > ymd (open_count() if none).
  std::size_t open_upper_bound(int ymd) const;

  // First index into days() whose date is >= ymd.
  std::size_t day_lower_bound(int ymd) const;

  // The holiday rules: true if a weekday is nevertheless closed.
  static bool is_holiday(int days);
  static bool is_us_holiday(int days);

 private:
  std::vector<Day> days_;
  std::vector<int> open_days_;
  std::vector<int> open_ymd_;
};

}  // namespace emu
