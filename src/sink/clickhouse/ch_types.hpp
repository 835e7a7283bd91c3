#pragma once
// finsync's schema types as ClickHouse columns, and rows as RowBinary (the server's own binary
// row format: little-endian fixed-width numbers, strings with a LEB128 length, Nullable(T) as a
// null byte followed by T unless it is NULL). The types exist on ClickHouse 18.16 and every later
// server: no DateTime64 (added in 20.1), so a timestamp is Int64 milliseconds since the epoch.
#include <cstdint>
#include <string>
#include <vector>

#include "core/record_batch.hpp"

namespace finsync::sink::clickhouse {

// Int64, Float64, String, Date, Int64 (timestamp: ms since the epoch, UTC), UInt8 (boolean).
std::string column_type(DataType type);
// A non-key column's type: Nullable(column_type). Key columns are never Nullable.
std::string nullable_type(DataType type);
// "Nullable(Float64)" -> "Float64" and true; anything else as it is and false.
std::string strip_nullable(const std::string& type, bool& nullable);

// The last day a Date holds in every server version (its 16-bit day count reaches 2149, but
// 18.16's date tables end in 2105 and would print later days wrong).
int32_t last_date();

// Appends rows [begin, end) of `b` in RowBinary; `nullable[c]`: column c is Nullable(T). Dates
// must be within 1970-01-01..last_date() and timestamps whole milliseconds (the framework checks
// this before anything is sent, naming the row).
void append_rows(const RecordBatch& b, size_t begin, size_t end, const std::vector<bool>& nullable,
                 std::string& out);

}  // namespace finsync::sink::clickhouse
