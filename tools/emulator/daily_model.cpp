#include "daily_model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

#include "dates.hpp"
#include "hash.hpp"

namespace emu {

namespace {
enum Salt : std::uint64_t {
  kSaltNoise = 101,
  kSaltOpen,
  kSaltHigh,
  kSaltLow,
  kSaltVol,
  kSaltSuspend,
  kSaltRevision,
};
constexpr std::int64_t kMinPrice = 2;  // 0.02: every price stays above 0.01
}  // namespace

std::int64_t div_round(std::int64_t num, std::int64_t den) {
  const std::int64_t mag = num < 0 ? -num : num;
  const std::int64_t q = (2 * mag + den) / (2 * den);
  return num < 0 ? -q : q;
}

DailyModel::DailyModel(const Calendar& calendar, int last_date, Release release)
    : cal_(calendar), end_open_(calendar.open_upper_bound(last_date)), release_(release) {}

int DailyModel::published_through() const {
  if (release_.publish_minutes < 0) return 99991231;
  const auto now = std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now());
  const std::int64_t local = now.time_since_epoch().count() + release_.utc_offset_minutes;
  const std::int64_t day = local >= 0 ? local / 1440 : (local - 1439) / 1440;
  const bool out = local - day * 1440 >= release_.publish_minutes;
  return ymd_from_days(static_cast<int>(out ? day : day - 1));
}

bool DailyModel::suspended(const Stock& s, int ymd) {
  return hash_of({s.key, static_cast<std::uint64_t>(ymd), kSaltSuspend}) % 1000 < 20;
}

bool DailyModel::has_row(const Stock& s, std::size_t i) const {
  return i >= s.first_open && i < s.end_open && i < end_open_ && !suspended(s, cal_.open_ymd(i));
}

std::size_t DailyModel::range_begin(const Stock& s, int lo_ymd) const {
  return std::max(s.first_open, cal_.open_lower_bound(lo_ymd));
}

std::size_t DailyModel::range_end(const Stock& s, int hi_ymd) const {
  return std::min({s.end_open, end_open_, cal_.open_upper_bound(hi_ymd)});
}

std::int64_t DailyModel::close_raw(const Stock& s, int day_number) const {
  const double t = day_number;
  const double two_pi = 2.0 * std::numbers::pi;
  const double noise =
      unit_of(hash_of({s.key, static_cast<std::uint64_t>(day_number), kSaltNoise}));
  const double f = 1.0 + 0.25 * std::sin(two_pi * t / s.period1 + s.phase1) +
                   0.08 * std::sin(two_pi * t / s.period2 + s.phase2) + 0.03 * (2.0 * noise - 1.0);
  return std::max(kMinPrice, static_cast<std::int64_t>(std::llround(s.base * f * 100.0)));
}

Bar DailyModel::bar(const Stock& s, std::size_t i, const std::int64_t* known_close,
                    std::size_t* previous) const {
  const int ymd = cal_.open_ymd(i);
  const int day = cal_.open_day_number(i);
  const auto h = [&](std::uint64_t salt) {
    return unit_of(hash_of({s.key, static_cast<std::uint64_t>(ymd), salt}));
  };
  Bar b{};
  b.trade_date = ymd;
  b.close = known_close != nullptr ? *known_close : close_raw(s, day);
  // The open gaps a little from the previous calendar day's model close.
  const double prev = static_cast<double>(close_raw(s, day - 1));
  b.open = std::max(
      kMinPrice,
      static_cast<std::int64_t>(std::llround(prev * (1.0 + 0.012 * (2.0 * h(kSaltOpen) - 1.0)))));
  const std::int64_t top = std::max(b.open, b.close);
  const std::int64_t bottom = std::min(b.open, b.close);
  b.high = top +
           static_cast<std::int64_t>(std::llround(static_cast<double>(top) * 0.025 * h(kSaltHigh)));
  b.low = std::max(kMinPrice, bottom - static_cast<std::int64_t>(std::llround(
                                           static_cast<double>(bottom) * 0.025 * h(kSaltLow))));

  // pre_close: the close of this stock's previous row; the open for its first row.
  b.pre_close = b.open;
  if (previous != nullptr) *previous = i;
  for (std::size_t j = i; j > s.first_open;) {
    --j;
    if (has_row(s, j)) {
      b.pre_close = close_raw(s, cal_.open_day_number(j));
      if (previous != nullptr) *previous = j;
      break;
    }
  }
  b.change = b.close - b.pre_close;
  b.pct_chg = div_round(b.change * 10000, b.pre_close);

  // Volume in lots (100 shares), amount in thousands of yuan, as Tushare reports them.
  const double lo_vol = std::log(5.0e4), hi_vol = std::log(3.0e6);
  b.vol = static_cast<std::int64_t>(
      std::llround(std::exp(lo_vol + h(kSaltVol) * (hi_vol - lo_vol)) * 100.0));
  const std::int64_t price_sum = b.open + b.high + b.low + b.close;
  if (release_.revision > 0 && ymd >= release_.revised_from &&
      hash_of({s.key, static_cast<std::uint64_t>(ymd), kSaltRevision,
               static_cast<std::uint64_t>(release_.revision)}) %
              2 ==
          0)
    b.vol += 100 * static_cast<std::int64_t>(release_.revision);
  b.amount = static_cast<std::int64_t>(
      std::llround(static_cast<double>(b.vol) * static_cast<double>(price_sum) / 4000.0));
  return b;
}

}  // namespace emu
