#pragma once
// What an Excel cell can hold, and finsync values as Excel serial numbers. Numbers are IEEE
// doubles: an int64 beyond ±2^53 would change, so it is rejected; NaN and ±Infinity have no
// cell value. Dates are days since 1899-12-30; Excel counts 1900-02-29, which never was, so only
// days from 1900-03-01 to 9999-12-31 map one to one. A text cell holds 32,767 characters.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::sink::excel {

inline constexpr int32_t kFirstDay = -25508;    // 1900-03-01, days since 1970-01-01
inline constexpr int32_t kLastDay = 2'932'896;  // 9999-12-31
inline constexpr int64_t kMaxExactInt = int64_t(1) << 53;
inline constexpr size_t kMaxTextChars = 32'767;

// Excel's serial number of a day (days since 1970-01-01) and of a timestamp (µs since the epoch).
double excel_date(int32_t days);
double excel_datetime(int64_t micros);

// invalid_input naming `where`, the row, the column and the value when a cell of `batch` cannot
// be written to a worksheet; nothing of the batch is landed then.
Result<void> check_cells(const RecordBatch& batch, const std::string& where);

}  // namespace finsync::sink::excel
