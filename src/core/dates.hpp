#pragma once
// Calendar dates as days since 1970-01-01 (proleptic Gregorian), parsed and printed with the
// strftime-like formats provider definitions use. The common formats have a fast path: a 6000-row
// page parses thousands of dates.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace finsync::dates {

int32_t days_from_civil(int y, unsigned m, unsigned d);
void civil_from_days(int32_t z, int& y, unsigned& m, unsigned& d);

// Supported: %Y %m %d and literal characters (e.g. "%Y%m%d", "%Y-%m-%d", "%d/%m/%Y").
std::optional<int32_t> parse(std::string_view text, std::string_view format);
std::string format(int32_t days, std::string_view format);
// Accepts YYYY-MM-DD or YYYYMMDD.
std::optional<int32_t> parse_iso(std::string_view text);
inline std::string iso(int32_t days) {
  return format(days, "%Y-%m-%d");
}
int year_of(int32_t days);
// 0 = Monday ... 6 = Sunday
inline int weekday(int32_t days) {
  return static_cast<int>((days % 7 + 7 + 3) % 7);
}

}  // namespace finsync::dates
