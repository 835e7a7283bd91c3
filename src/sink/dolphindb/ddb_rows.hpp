#pragma once
// Rows of a RecordBatch as a DolphinDB table object (the argument of tableInsert and upsert!),
// encoded straight from the batch's columns.
//
//   int64 -> LONG, float64 -> DOUBLE, string -> STRING (SYMBOL in key columns), date -> DATE,
//   timestamp -> TIMESTAMP (milliseconds), boolean -> BOOL; a null -> DolphinDB's null of the type.
//
// Values DolphinDB would read as null are refused (invalid_input naming row, column and value):
// LONG's smallest value, DOUBLE's -DBL_MAX, an empty string in a key column, and any string
// holding a NUL byte (the protocol ends strings with one).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"
#include "sink/dolphindb/ddb_codec.hpp"

namespace finsync::sink::dolphindb {

Type column_type(DataType t, bool key);
// The Type of a name column_type() gives ("SYMBOL"); nullopt for any other.
std::optional<Type> parse_type(std::string_view name);

// Appends rows [begin, end) of `b` as a table; types[i] is column i's type. Messages number
// rows from 1 at `begin`.
Result<void> encode_rows(const RecordBatch& b, const std::vector<Type>& types, size_t begin,
                         size_t end, std::string& out);

}  // namespace finsync::sink::dolphindb
