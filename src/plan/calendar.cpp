#include "plan/calendar.hpp"

#include <algorithm>

#include "core/dates.hpp"

namespace finsync::plan {

TradingCalendar::TradingCalendar(std::vector<int32_t> open_days)
    : known_(true), days_(std::move(open_days)) {
  std::sort(days_.begin(), days_.end());
  days_.erase(std::unique(days_.begin(), days_.end()), days_.end());
}

bool TradingCalendar::is_open(int32_t day) const {
  if (!known_) return dates::weekday(day) < 5;
  return std::binary_search(days_.begin(), days_.end(), day);
}

int64_t TradingCalendar::count(int32_t a, int32_t b) const {
  if (b < a) return 0;
  if (known_)
    return std::upper_bound(days_.begin(), days_.end(), b) -
           std::lower_bound(days_.begin(), days_.end(), a);
  // Weekdays in [a, b].
  auto weekdays_before = [](int32_t d) {  // weekdays in [epoch-ish anchor, d)
    int64_t shifted = int64_t(d) + 3;     // day 0 (1970-01-01) was a Thursday: make Monday 0
    int64_t weeks = shifted >= 0 ? shifted / 7 : (shifted - 6) / 7;
    int64_t rem = shifted - weeks * 7;
    return weeks * 5 + std::min<int64_t>(rem, 5);
  };
  return weekdays_before(b + 1) - weekdays_before(a);
}

std::optional<int32_t> TradingCalendar::first_open_on_or_after(int32_t day, int32_t limit) const {
  if (known_) {
    auto it = std::lower_bound(days_.begin(), days_.end(), day);
    if (it == days_.end() || *it > limit) return std::nullopt;
    return *it;
  }
  for (int32_t d = day; d <= limit; ++d)
    if (is_open(d)) return d;
  return std::nullopt;
}

std::optional<int32_t> TradingCalendar::last_open_on_or_before(int32_t day, int32_t limit) const {
  if (known_) {
    auto it = std::upper_bound(days_.begin(), days_.end(), day);
    if (it == days_.begin() || *std::prev(it) < limit) return std::nullopt;
    return *std::prev(it);
  }
  for (int32_t d = day; d >= limit; --d)
    if (is_open(d)) return d;
  return std::nullopt;
}

int32_t TradingCalendar::nth_open_from(int32_t a, int32_t b, int64_t n) const {
  if (known_) {
    auto it = std::lower_bound(days_.begin(), days_.end(), a);
    auto end = std::upper_bound(days_.begin(), days_.end(), b);
    if (end - it <= n) return b;
    return *(it + (n - 1));
  }
  int64_t seen = 0;
  for (int32_t d = a; d <= b; ++d)
    if (is_open(d) && ++seen == n) return d;
  return b;
}

}  // namespace finsync::plan
