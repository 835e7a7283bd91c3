#pragma once
// A task's parameter set: no symbol, one symbol, several symbols in one request, or every symbol
// of the market on one trading day. Stored in Task::params_json as
//   {}   {"ts_code":"000001.SZ"}   {"ts_code":["000001.SZ","600000.SH"]}   {"all_symbols":2}
// The number of `all_symbols` is the universe generation the task covers: symbols that joined
// the plan's universe later are not covered by it and get tasks of their own.
#include <cstdint>
#include <string>
#include <vector>

#include "state/task.hpp"

namespace finsync::plan {

struct ParamSet {
  enum class Kind { none, symbol, symbols, all };
  Kind kind = Kind::none;
  std::vector<std::string> symbols;  // symbol: the one; symbols: two or more, sorted
  int32_t gen = 0;                   // all: symbols of this universe generation or older

  static ParamSet one(std::string symbol);
  // Sorted; a list of one is `one`.
  static ParamSet list(std::vector<std::string> symbols);
  static ParamSet all(int32_t gen);
  bool operator==(const ParamSet&) const = default;
};

ParamSet param_set(const state::Task& t);
std::string params_json(const std::string& symbol_param, const ParamSet& ps);

// Stable ids: plan/SYMBOL/YYYYMMDD-YYYYMMDD, plan/YYYYMMDD-YYYYMMDD without a symbol,
// plan/FIRST+N.HASH/... for a list (its first symbol, how many more, a digest of all of them),
// plan/*/... for every symbol.
std::string task_id(const std::string& plan, const ParamSet& ps, int32_t start, int32_t end);

// A pending task of `plan` over [start, end].
state::Task make_task(const std::string& plan, const std::string& symbol_param, const ParamSet& ps,
                      int32_t start, int32_t end);

// How logs name the set: the symbol, "FIRST and N more", "every symbol", or "".
std::string label(const ParamSet& ps);

// What a request sends for the set: the symbol, the list joined by `separator`, or "".
std::string request_symbols(const ParamSet& ps, const std::string& separator);

}  // namespace finsync::plan
