#pragma once
// A plan file written from `finsync plan add` flags: the same schema as a hand-written plan,
// readable and editable.
#include <string>
#include <utility>
#include <vector>

#include "config/sink_spec.hpp"

namespace finsync::config {

struct PlanDraft {
  std::string name;
  std::string provider;
  std::string endpoint;
  std::vector<std::string> symbols;  // universe.symbols, or
  std::string symbols_from;          // universe.from
  std::string start;                 // range.start, as given
  std::string end;                   // range.end, as given (a date or "today")
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<SinkEntry> sink;
};

std::string plan_yaml(const PlanDraft& draft);

}  // namespace finsync::config
