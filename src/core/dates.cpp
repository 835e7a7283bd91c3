#include "core/dates.hpp"

#include <fmt/format.h>

namespace finsync::dates {

// Howard Hinnant's days_from_civil / civil_from_days algorithms.
int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

void civil_from_days(int32_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

unsigned days_in_month(int y, unsigned m) {
  static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : dim[m - 1];
}

}  // namespace

std::optional<int32_t> parse(std::string_view text, std::string_view fmt) {
  int y = -1, m = -1, d = -1;
  size_t pos = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '%' && i + 1 < fmt.size()) {
      char spec = fmt[++i];
      int* target = spec == 'Y' ? &y : spec == 'm' ? &m : spec == 'd' ? &d : nullptr;
      size_t width = spec == 'Y' ? 4 : 2;
      if (target == nullptr || !digits(text, pos, width, *target)) return std::nullopt;
      pos += width;
    } else {
      if (pos >= text.size() || text[pos] != fmt[i]) return std::nullopt;
      ++pos;
    }
  }
  if (pos != text.size() || y < 0 || m < 1 || m > 12 || d < 1) return std::nullopt;
  if (static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(m))) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
}

std::string format(int32_t days, std::string_view fmt) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '%' && i + 1 < fmt.size()) {
      char spec = fmt[++i];
      if (spec == 'Y')
        out += fmt::format("{:04d}", y);
      else if (spec == 'm')
        out += fmt::format("{:02d}", m);
      else if (spec == 'd')
        out += fmt::format("{:02d}", d);
      else
        out += spec;
    } else {
      out += fmt[i];
    }
  }
  return out;
}

std::optional<int32_t> parse_iso(std::string_view text) {
  if (text.size() == 8) return parse(text, "%Y%m%d");
  return parse(text, "%Y-%m-%d");
}

int year_of(int32_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return y;
}

}  // namespace finsync::dates
