#include "sink/db/value_text.hpp"

#include "core/dates.hpp"

namespace finsync::sink::db {
namespace {

char* digits(unsigned v, int n, char* out) {
  for (int i = n - 1; i >= 0; --i) {
    out[i] = char('0' + v % 10);
    v /= 10;
  }
  return out + n;
}

}  // namespace

char* format_date(int32_t days, char* out) {
  int y;
  unsigned m, d;
  dates::civil_from_days(days, y, m, d);
  out = digits(unsigned(y), 4, out);
  *out++ = '-';
  out = digits(m, 2, out);
  *out++ = '-';
  return digits(d, 2, out);
}

char* format_timestamp(int64_t us, char* out) {
  constexpr int64_t kDay = 86'400'000'000;
  int64_t day = us / kDay;
  int64_t rest = us % kDay;
  if (rest < 0) {
    rest += kDay;
    --day;
  }
  out = format_date(int32_t(day), out);
  *out++ = 'T';
  out = digits(unsigned(rest / 3'600'000'000), 2, out);
  *out++ = ':';
  out = digits(unsigned(rest / 60'000'000 % 60), 2, out);
  *out++ = ':';
  out = digits(unsigned(rest / 1'000'000 % 60), 2, out);
  *out++ = '.';
  out = digits(unsigned(rest % 1'000'000), 6, out);
  *out++ = 'Z';
  return out;
}

std::string date_text(int32_t days) {
  char buf[16];
  return std::string(buf, format_date(days, buf));
}

std::string timestamp_text(int64_t micros) {
  char buf[32];
  return std::string(buf, format_timestamp(micros, buf));
}

int32_t first_day_of_year(int year) {
  return dates::days_from_civil(year, 1, 1);
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace finsync::sink::db
