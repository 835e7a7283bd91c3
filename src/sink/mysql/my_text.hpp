#pragma once
// Rows as the text MariaDB reads, in its two bulk forms:
//   - LOAD DATA lines: fields separated by a tab, rows ended by '\n', backslash escapes (\\, \t,
//     \n, \r, \0), NULL as \N; the statement says FIELDS TERMINATED BY '\t' ESCAPED BY '\\'
//     LINES TERMINATED BY '\n' (load_columns_clause);
//   - the VALUES tuples of a multi-row INSERT, strings escaped by the client library.
// Dates are 'YYYY-MM-DD', timestamps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC: the sessions run with
// time_zone '+00:00' and the columns are DATETIME(6)), doubles in their shortest round-trip form
// (the server parses them back to the same double), booleans 0/1.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/record_batch.hpp"

namespace finsync::sink::mysql {

// "YYYY-MM-DD HH:MM:SS.ffffff" (26 bytes), UTC: the ISO form without its 'T' and 'Z', which
// DATETIME does not take in LOAD DATA. Returns the end of what was written.
char* format_datetime(int64_t micros, char* out);

// Row r of `b` as one LOAD DATA line, '\n' included.
void append_load_line(const RecordBatch& b, size_t r, std::string& out);

// "FIELDS TERMINATED BY ... LINES TERMINATED BY ..." for the lines above.
std::string_view load_format_clause();

// A non-string value (or NULL) of row r as an SQL literal; false for a valid string cell, which
// the caller escapes with the connection (mysql_real_escape_string).
bool append_literal(const Column& c, size_t r, std::string& out);

// "`name`" with embedded backquotes doubled.
std::string quote_name(std::string_view name);

}  // namespace finsync::sink::mysql
