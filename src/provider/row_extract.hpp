#pragma once
// Maps a parsed JSON response into a typed, columnar batch, straight from simdjson's DOM.
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "config/provider_def.hpp"
#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::provider {

// "$.data.items" -> "/data/items"; "$" -> "".
std::string json_pointer(std::string_view path);

// The request's parameters, for columns filled from one (`param:` in a column definition).
using ParamValues = std::vector<std::pair<std::string, std::string>>;

// Appends a value given as text (a CSV field, a JSON string) converted to the column's type.
Result<void> append_text(Column& col, const config::ColumnDef& def, std::string_view text);

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 simdjson::dom::element root, const ParamValues& params = {});

// Rows of kind csv: a header row, then records; columns mapped by header name.
Result<RecordBatch> extract_csv(const config::RowsDef& rows,
                                const std::vector<config::ColumnDef>& columns,
                                std::string_view body, const ParamValues& params = {});

// Parses `body` and extracts; the parser is reused between calls (its buffers stay allocated).
Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 std::string_view body, simdjson::dom::parser& parser,
                                 const ParamValues& params = {});

}  // namespace finsync::provider
