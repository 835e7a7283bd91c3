#pragma once
// The excel sink kind: an .xlsx workbook built from the staging store. A workbook cannot be
// appended to in place, so rows land in the workspace's DuckDB staging store first (a staging
// table like the parquet and csv sinks', with its markers, modes and upserts), and the workbook
// is rebuilt whole from that table when a run closes the sink (once per run, and only when a
// landing changed the table since the last build or the file is missing) and on `finsync
// export`. One writer at a time.
#include "sink/registry.hpp"

namespace finsync::sink::excel {

void register_excel_sink(SinkRegistry& registry);

// Rebuilds the workbook of an opened excel sink now, whatever changed; invalid_input when `sink`
// is not an excel sink.
Result<SinkStats> export_workbook(Sink& sink);

}  // namespace finsync::sink::excel
