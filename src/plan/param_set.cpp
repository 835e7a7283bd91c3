#include "plan/param_set.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

#include "core/dates.hpp"
#include "core/digest.hpp"
#include "core/json_escape.hpp"

namespace finsync::plan {

ParamSet ParamSet::one(std::string symbol) {
  ParamSet ps;
  ps.kind = Kind::symbol;
  ps.symbols.push_back(std::move(symbol));
  return ps;
}

ParamSet ParamSet::list(std::vector<std::string> symbols) {
  std::sort(symbols.begin(), symbols.end());
  symbols.erase(std::unique(symbols.begin(), symbols.end()), symbols.end());
  if (symbols.size() == 1) return one(std::move(symbols[0]));
  ParamSet ps;
  ps.kind = Kind::symbols;
  ps.symbols = std::move(symbols);
  return ps;
}

ParamSet ParamSet::all(int32_t gen) {
  ParamSet ps;
  ps.kind = Kind::all;
  ps.gen = gen;
  return ps;
}

ParamSet param_set(const state::Task& t) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(t.params_json).get_object().get(obj) != simdjson::SUCCESS) return {};
  for (auto field : obj) {
    if (field.key == "all_symbols") {
      int64_t gen = 0;
      if (field.value.get_int64().get(gen) == simdjson::SUCCESS) return ParamSet::all(int32_t(gen));
      return {};
    }
    std::string_view v;
    if (field.value.get_string().get(v) == simdjson::SUCCESS) return ParamSet::one(std::string(v));
    simdjson::dom::array arr;
    if (field.value.get_array().get(arr) == simdjson::SUCCESS) {
      ParamSet ps;
      ps.kind = ParamSet::Kind::symbols;
      for (auto e : arr)
        if (e.get_string().get(v) == simdjson::SUCCESS) ps.symbols.emplace_back(v);
      return ps;
    }
    return {};
  }
  return {};
}

std::string params_json(const std::string& symbol_param, const ParamSet& ps) {
  switch (ps.kind) {
    case ParamSet::Kind::none:
      return "{}";
    case ParamSet::Kind::all:
      return fmt::format(R"({{"all_symbols":{}}})", ps.gen);
    case ParamSet::Kind::symbol:
      return fmt::format(R"({{"{}":"{}"}})", json_escape(symbol_param), json_escape(ps.symbols[0]));
    case ParamSet::Kind::symbols:
      break;
  }
  std::string out = fmt::format(R"({{"{}":[)", json_escape(symbol_param));
  for (size_t i = 0; i < ps.symbols.size(); ++i)
    out += fmt::format(R"({}"{}")", i ? "," : "", json_escape(ps.symbols[i]));
  return out + "]}";
}

std::string task_id(const std::string& plan, const ParamSet& ps, int32_t start, int32_t end) {
  const std::string window =
      fmt::format("{}-{}", dates::format(start, "%Y%m%d"), dates::format(end, "%Y%m%d"));
  switch (ps.kind) {
    case ParamSet::Kind::none:
      return fmt::format("{}/{}", plan, window);
    case ParamSet::Kind::symbol:
      return fmt::format("{}/{}/{}", plan, ps.symbols[0], window);
    case ParamSet::Kind::all:
      return fmt::format("{}/*/{}", plan, window);
    case ParamSet::Kind::symbols:
      break;
  }
  Fnv1a d;
  for (const auto& s : ps.symbols) d.add(s).add(0xff);
  const uint64_t h = d.h;
  return fmt::format("{}/{}+{}.{:08x}/{}", plan, ps.symbols.front(), ps.symbols.size() - 1,
                     uint32_t(h ^ (h >> 32)), window);
}

state::Task make_task(const std::string& plan, const std::string& symbol_param, const ParamSet& ps,
                      int32_t start, int32_t end) {
  state::Task t;
  t.id = task_id(plan, ps, start, end);
  t.plan = plan;
  t.params_json = params_json(symbol_param, ps);
  t.start_day = start;
  t.end_day = end;
  return t;
}

std::string label(const ParamSet& ps) {
  switch (ps.kind) {
    case ParamSet::Kind::none:
      return "";
    case ParamSet::Kind::symbol:
      return ps.symbols[0];
    case ParamSet::Kind::symbols:
      return fmt::format("{} and {} more", ps.symbols.front(), ps.symbols.size() - 1);
    case ParamSet::Kind::all:
      return "every symbol";
  }
  return "";
}

std::string request_symbols(const ParamSet& ps, const std::string& separator) {
  if (ps.kind == ParamSet::Kind::symbol) return ps.symbols[0];
  if (ps.kind != ParamSet::Kind::symbols) return "";
  return fmt::format("{}", fmt::join(ps.symbols, separator));
}

}  // namespace finsync::plan
