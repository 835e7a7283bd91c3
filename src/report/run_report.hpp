#pragma once
// Run reports: the table `finsync run` and `finsync report` print, and the JSON of
// `finsync report --json` (schema in docs/report.md).
#include <string>
#include <vector>

#include "sink/sink.hpp"
#include "state/state_store.hpp"

namespace finsync::report {

std::string to_table(const state::RunRecord& run);
std::string to_json(const state::RunRecord& run);
// Lines `finsync run` adds under the table (not stored with the run): files rewritten by a file
// sink; commits, reconnects and retried transactions of a database sink, columns added by
// schema_drift: evolve. Empty when there is nothing to say.
std::string sink_lines(std::string_view kind, const sink::SinkStats& stats);
std::string format_duration(double seconds);
double wall_seconds(const state::RunRecord& run);

}  // namespace finsync::report
