// Civil-date arithmetic on day numbers (days since 1970-01-01) and YYYYMMDD integers.
#pragma once

#include <string>
#include <string_view>

namespace emu {

// Howard Hinnant's days_from_civil, valid for the proleptic Gregorian calendar.
constexpr int days_from_civil(int y, int m, int d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int y;
  int m;
  int d;
};

constexpr Civil civil_from_days(int z) noexcept {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const int doe = z - era * 146097;
  const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int mp = (5 * doy + 2) / 153;
  const int d = doy - (153 * mp + 2) / 5 + 1;
  const int m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

constexpr int ymd_from_days(int z) noexcept {
  const Civil c = civil_from_days(z);
  return c.y * 10000 + c.m * 100 + c.d;
}

constexpr int days_from_ymd(int ymd) noexcept {
  return days_from_civil(ymd / 10000, ymd / 100 % 100, ymd % 100);
}

// 0 = Sunday ... 6 = Saturday.
constexpr int weekday_from_days(int z) noexcept {
  return z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6;
}

// Accepts exactly eight ASCII digits (YYYYMMDD); does not check that the day exists.
bool parse_ymd(std::string_view text, int& out) noexcept;

// Appends "YYYYMMDD".
void append_ymd(std::string& out, int ymd);
// Appends "YYYY-MM-DD".
void append_ymd_dashed(std::string& out, int ymd);

}  // namespace emu
