#pragma once
// Trading days of an exchange, from the provider's calendar endpoint. Without one, every
// weekday counts as a trading day (an upper bound, so windows stay under row caps).
#include <cstdint>
#include <optional>
#include <vector>

namespace finsync::plan {

class TradingCalendar {
 public:
  TradingCalendar() = default;  // weekdays
  explicit TradingCalendar(std::vector<int32_t> open_days);

  bool known() const { return known_; }
  // Open days in [a, b].
  int64_t count(int32_t a, int32_t b) const;
  std::optional<int32_t> first_open_on_or_after(int32_t day, int32_t limit) const;
  std::optional<int32_t> last_open_on_or_before(int32_t day, int32_t limit) const;
  // The day d in [a, b] such that [a, d] holds n open days (n >= 1), or b if fewer.
  int32_t nth_open_from(int32_t a, int32_t b, int64_t n) const;
  bool is_open(int32_t day) const;

 private:
  bool known_ = false;
  std::vector<int32_t> days_;  // sorted open days
};

}  // namespace finsync::plan
