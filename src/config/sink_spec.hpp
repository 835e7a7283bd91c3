#pragma once
// The sink SPEC of `finsync plan add --sink`: one string that fills the keys of a plan's `sink:`
// block (docs/configuration.md, "Sink SPEC"). It knows no sink kind, only the block's keys:
//   KIND[:PATH][,KEY=VALUE]...                 parquet:./data,partition_by=ts_code+year
//   KIND:SCHEME://[USER@]HOST[...][?KEY=VALUE&...]  postgres:postgresql://u@h:5432/db?table=t
// In the URL form the URL fills `dsn`; a query key that is a sink key fills that key and the
// others stay in the URL for the driver. A list key's value separates its items with '+'.
// A credential must be a ${VAR} reference: a literal one is refused, so it never reaches a
// plan file or a shell history.
#include <string>
#include <string_view>
#include <vector>

#include "config/plan_def.hpp"
#include "core/error.hpp"

namespace finsync::config {

struct SinkEntry {
  std::string key;
  std::vector<std::string> values;  // one unless the key holds a list
  bool list = false;
};

// Entries in the order given, `kind` first. Errors (invalid_input) say what is wrong and what
// was expected, without repeating a secret.
Result<std::vector<SinkEntry>> parse_sink_spec(std::string_view spec,
                                               const std::vector<SinkKey>& keys = sink_keys());

}  // namespace finsync::config
