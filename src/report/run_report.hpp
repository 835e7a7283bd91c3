#pragma once
// Run reports: the table `finsync run` and `finsync report` print, and the JSON of
// `finsync report --json` (schema in docs/report.md).
#include <string>
#include <vector>

#include "state/state_store.hpp"

namespace finsync::report {

std::string to_table(const state::RunRecord& run);
std::string to_json(const state::RunRecord& run);
std::string format_duration(double seconds);
double wall_seconds(const state::RunRecord& run);

}  // namespace finsync::report
