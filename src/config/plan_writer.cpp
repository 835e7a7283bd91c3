#include "config/plan_writer.hpp"

#include <yaml-cpp/yaml.h>

namespace finsync::config {
namespace {

void list(YAML::Emitter& out, const std::vector<std::string>& items) {
  // Short lists read best on one line; a universe of thousands, one symbol a line.
  if (items.size() <= 10) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const auto& i : items) out << i;
  out << YAML::EndSeq;
}

}  // namespace

std::string plan_yaml(const PlanDraft& d) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << d.name;
  out << YAML::Key << "provider" << YAML::Value << d.provider;
  out << YAML::Key << "endpoint" << YAML::Value << d.endpoint;
  if (!d.symbols.empty() || !d.symbols_from.empty()) {
    out << YAML::Key << "universe" << YAML::Value << YAML::BeginMap;
    if (!d.symbols_from.empty()) {
      out << YAML::Key << "from" << YAML::Value << d.symbols_from;
    } else {
      out << YAML::Key << "symbols" << YAML::Value;
      list(out, d.symbols);
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "range" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "start" << YAML::Value << d.start;
  out << YAML::Key << "end" << YAML::Value << d.end;
  out << YAML::EndMap;
  if (!d.params.empty()) {
    out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : d.params) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
  }
  out << YAML::Key << "sink" << YAML::Value << YAML::BeginMap;
  for (const auto& e : d.sink) {
    out << YAML::Key << e.key << YAML::Value;
    if (e.list)
      list(out, e.values);
    else
      out << e.values.front();
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  return "# Written by `finsync plan add`; edit it like any plan file (docs/configuration.md).\n" +
         std::string(out.c_str()) + "\n";
}

}  // namespace finsync::config
