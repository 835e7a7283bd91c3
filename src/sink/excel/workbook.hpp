#pragma once
// Builds an .xlsx workbook from a staged DuckDB table in one streaming pass: the rows are read
// in sheet order chunk by chunk and written through libxlsxwriter in constant_memory mode (each
// row goes to a temp file as soon as the next one starts), so memory stays flat however many
// rows there are. The workbook is written to a hidden temp file next to its place, synced and
// renamed over the old one: readers see the old workbook or the new one, never half of one.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"
#include "sink/duckdb_store.hpp"

namespace finsync::sink::excel {

struct WorkbookSpec {
  std::string path;                // the .xlsx file
  std::string table;               // the staged table (main schema of the connection's store)
  Schema schema;                   // its columns, in workbook order
  std::vector<std::string> order;  // ORDER BY inside a sheet (the primary key)
  // One sheet per value of this column (NULL: "NULL"), continued after rows_per_sheet rows;
  // empty: every row on sheets named after `sheet_name`.
  std::string group_column;
  std::string sheet_name;
  int64_t rows_per_sheet = 0;
};

struct WorkbookStats {
  int64_t rows = 0;
  int sheets = 0;
  int64_t bytes = 0;
};

// The temp files of a crashed build are removed first.
Result<WorkbookStats> build_workbook(duck::Connection& con, const WorkbookSpec& spec);

}  // namespace finsync::sink::excel
