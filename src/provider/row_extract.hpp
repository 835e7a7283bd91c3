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

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 simdjson::dom::element root);

// Parses `body` and extracts; the parser is reused between calls (its buffers stay allocated).
Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 std::string_view body, simdjson::dom::parser& parser);

}  // namespace finsync::provider
