#include "sink/excel/cell_values.hpp"

#include <fmt/format.h>

#include <cmath>

#include "core/dates.hpp"
#include "sink/db/value_text.hpp"

namespace finsync::sink::excel {

namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr double kEpochSerial = 25569.0;  // 1970-01-01

std::string day_text(int64_t days) {
  return days >= INT32_MIN && days <= INT32_MAX ? dates::iso(int32_t(days))
                                                : std::to_string(days) + " days";
}

size_t utf8_chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

double excel_date(int32_t days) {
  return kEpochSerial + days;
}

double excel_datetime(int64_t micros) {
  // Whole days and the fraction apart, so the day part stays exact.
  int64_t days = micros / kMicrosPerDay;
  int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  return kEpochSerial + double(days) + double(rest) / double(kMicrosPerDay);
}

Result<void> check_cells(const RecordBatch& batch, const std::string& where) {
  constexpr int64_t first_micros = int64_t(kFirstDay) * kMicrosPerDay;
  constexpr int64_t end_micros = (int64_t(kLastDay) + 1) * kMicrosPerDay;
  for (size_t c = 0; c < batch.num_columns(); ++c) {
    const Field& f = batch.schema().fields[c];
    const Column& col = batch.column(c);
    for (size_t r = 0; r < col.size(); ++r) {
      if (!col.valid(r)) continue;
      auto bad = [&](std::string what) {
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: row {}, column {}: {}; nothing of this batch was written",
                                where, r + 1, f.name, what));
      };
      switch (f.type) {
        case DataType::int64:
          if (col.int_at(r) > kMaxExactInt || col.int_at(r) < -kMaxExactInt)
            return bad(
                fmt::format("{} is beyond ±2^53, which an Excel number (a double) cannot "
                            "hold exactly",
                            col.int_at(r)));
          break;
        case DataType::float64:
          if (!std::isfinite(col.double_at(r)))
            return bad(fmt::format("{} has no Excel cell value", col.double_at(r)));
          break;
        case DataType::date:
          if (col.int_at(r) < kFirstDay || col.int_at(r) > kLastDay)
            return bad(
                fmt::format("date {} is outside what an Excel date holds "
                            "(1900-03-01..9999-12-31)",
                            day_text(col.int_at(r))));
          break;
        case DataType::timestamp:
          if (col.int_at(r) < first_micros || col.int_at(r) >= end_micros)
            return bad(
                fmt::format("timestamp {} is outside what an Excel date holds "
                            "(1900-03-01..9999-12-31)",
                            col.int_at(r) >= first_micros - kMicrosPerDay * 1000 &&
                                    col.int_at(r) < end_micros + kMicrosPerDay * 1000
                                ? db::timestamp_text(col.int_at(r))
                                : std::to_string(col.int_at(r)) + " µs"));
          break;
        case DataType::string:
          if (utf8_chars(col.string_at(r)) > kMaxTextChars)
            return bad(fmt::format("a text of {} characters; an Excel cell holds {}",
                                   utf8_chars(col.string_at(r)), kMaxTextChars));
          break;
        case DataType::boolean:
          break;
      }
    }
  }
  return {};
}

}  // namespace finsync::sink::excel
