#pragma once
// A plan file: what a user asked for. The planner turns it into tasks.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/env.hpp"
#include "core/error.hpp"

namespace finsync::config {

struct UniverseSpec {
  std::vector<std::string> symbols;   // explicit list, or
  std::string from_endpoint;          // "all symbols from endpoint X"
  std::vector<std::string> statuses;  // listing statuses to include; empty = all the endpoint has
};

// The plan's `sink:` block. Keys every kind may take are fields; the others are kept as written
// in `options` and checked by the kind's factory (sink/spec_check.hpp), which is also where a
// key a kind does not take is rejected.
struct SinkDef {
  std::string kind;
  RawValue path;
  std::string table;
  std::string mode = "upsert";
  std::string replace = "table";  // replace mode: table | partition
  std::vector<std::string> partition_by;
  RawValue dsn;
  RawValue password;  // a secret: expanded with masking
  int64_t batch_size = 0;
  std::string schema_drift = "fail";                      // fail | evolve
  std::vector<std::pair<std::string, RawValue>> options;  // scalars only
  std::map<std::string, std::string> where;               // key -> "file:line:col: sink.key"
  std::string block;                                      // "file:line:col: sink"
};

struct PlanDef {
  std::string name;
  std::string provider;
  std::string endpoint;
  UniverseSpec universe;
  int32_t start_day = 0;
  // `end: today`: the run sets end_day to today in the endpoint's publication time zone.
  int32_t end_day = 0;
  bool end_today = false;
  // Trading days before each parameter set's high-water mark fetched again on every run of a
  // plan that ends `today`, for the vendor's corrections.
  int lookback = 3;
  std::vector<std::pair<std::string, std::string>> params;  // fixed extra request params
  SinkDef sink;
  std::string split_window;  // overrides the endpoint's split window when set
  // A strategy the endpoint declares, to use instead of the cheapest ("" = the cheapest).
  std::string split_strategy;
  std::string split_strategy_where;  // file:line:col: split.strategy, for errors
  int concurrency = 0;               // 0 = workspace default
  std::string source;                // file
  std::string text;                  // the file as written, stored with the plan
};

// The keys a plan's `sink:` block accepts, and which of them hold lists. `finsync plan add
// --sink SPEC` fills these same keys, so a key added here is accepted there too.
struct SinkKey {
  std::string_view name;
  bool list = false;
};
const std::vector<SinkKey>& sink_keys();

Result<PlanDef> parse_plan(const std::string& text, const std::string& file);
Result<PlanDef> load_plan_file(const std::string& path);

}  // namespace finsync::config
