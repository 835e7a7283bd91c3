#pragma once
// Dates and timestamps as ISO 8601 text, written without allocation for drivers that send or
// store them as text (SQLite columns, text protocols), and the SQL helpers drivers share.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace finsync::sink::db {

// "YYYY-MM-DD" (10 bytes) for years 0000-9999; returns the end of what was written.
char* format_date(int32_t days, char* out);
// "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27 bytes), UTC, for years 0000-9999.
char* format_timestamp(int64_t micros, char* out);
std::string date_text(int32_t days);
std::string timestamp_text(int64_t micros);
// Days since 1970-01-01 of the first day of a year (proleptic Gregorian).
int32_t first_day_of_year(int year);

// "name" with embedded double quotes doubled (standard SQL identifiers).
std::string quote_ident(std::string_view name);
// 'text' with embedded single quotes doubled.
std::string quote_literal(std::string_view text);
// a, b, c  with each element passed through `f`.
template <class F>
std::string join_mapped(const std::vector<std::string>& items, std::string_view sep, F f) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += f(items[i]);
  }
  return out;
}

}  // namespace finsync::sink::db
