#include "sink/spec_check.hpp"

#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/closest_match.hpp"

namespace finsync::sink {

std::string_view to_string(ReplaceScope s) {
  return s == ReplaceScope::partition ? "partition" : "table";
}

std::string_view to_string(SchemaDrift d) {
  return d == SchemaDrift::evolve ? "evolve" : "fail";
}

std::string SinkSpec::located(std::string_view key) const {
  auto it = where.find(std::string(key));
  if (it != where.end()) return it->second;
  return block.empty() ? fmt::format("sink.{}", key) : fmt::format("{}.{}", block, key);
}

std::vector<std::string> SinkSpec::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : where) out.push_back(k);
  auto add = [&](const char* k, bool set) {
    if (set && !where.count(k)) out.push_back(k);
  };
  add("kind", !kind.empty());
  add("path", !path.empty());
  add("table", !table.empty());
  add("mode", mode != WriteMode::upsert);
  add("replace", replace != ReplaceScope::table);
  add("partition_by", !partition_by.empty());
  add("dsn", !dsn.empty());
  add("password", !password.empty());
  add("batch_size", batch_size != 0);
  add("schema_drift", schema_drift != SchemaDrift::fail);
  for (const auto& [k, _] : options)
    if (!where.count(k)) out.push_back(k);
  return out;
}

Result<void> check_keys(const SinkSpec& spec, std::initializer_list<std::string_view> allowed) {
  std::vector<std::string> names = {"kind", "table", "mode"};
  for (auto a : allowed) names.emplace_back(a);
  for (const auto& k : spec.keys()) {
    if (std::find(names.begin(), names.end(), k) != names.end()) continue;
    std::string hint = closest_match(k, names);
    return fail(
        ErrorKind::invalid_input,
        fmt::format("{}: '{}' is not an option of {} sinks{}; expected one of {}", spec.located(k),
                    k, spec.kind, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                    fmt::join(names, ", ")));
  }
  return {};
}

std::string option_or(const SinkSpec& spec, std::string_view key, std::string fallback) {
  auto it = spec.options.find(std::string(key));
  return it == spec.options.end() ? fallback : it->second;
}

Result<int64_t> option_int(const SinkSpec& spec, std::string_view key, int64_t fallback,
                           int64_t min_value) {
  auto it = spec.options.find(std::string(key));
  if (it == spec.options.end()) return fallback;
  const std::string& text = it->second;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min_value)
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: value '{}' is not valid: expected an integer >= {}",
                            spec.located(key), text, min_value));
  return v;
}

Result<std::string> option_choice(const SinkSpec& spec, std::string_view key,
                                  std::initializer_list<std::string_view> choices,
                                  std::string fallback) {
  auto it = spec.options.find(std::string(key));
  if (it == spec.options.end()) return fallback;
  for (auto c : choices)
    if (c == it->second) return it->second;
  return fail(ErrorKind::invalid_input,
              fmt::format("{}: value '{}' is not valid: expected one of {}", spec.located(key),
                          it->second, fmt::join(choices, ", ")));
}

Error missing(const SinkSpec& spec, std::string_view key, std::string_view what) {
  return Error{ErrorKind::invalid_input,
               fmt::format("{}: a {} sink needs {}", spec.located(key), spec.kind, what),
               std::nullopt};
}

}  // namespace finsync::sink
