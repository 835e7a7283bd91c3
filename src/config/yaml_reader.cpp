#include "config/yaml_reader.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace finsync::config {

void raise(const Loc& loc, const YAML::Mark& mark, const std::string& message) {
  std::string where = loc.file;
  if (!mark.is_null()) where += fmt::format(":{}:{}", mark.line + 1, mark.column + 1);
  if (loc.path.empty()) throw ConfigError{fmt::format("{}: {}", where, message)};
  throw ConfigError{fmt::format("{}: {}: {}", where, loc.path, message)};
}

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    raise(Loc{file, ""}, e.mark, fmt::format("invalid YAML: {}", e.msg));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError{fmt::format("{}: cannot read file", path)};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string scalar_text(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "null";
}

bool parse_duration(std::string_view text, std::chrono::milliseconds& out) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data() || n < 0) return false;
  std::string_view unit(p, text.data() + text.size() - p);
  static const std::map<std::string_view, int64_t, std::less<>> ms = {
      {"ms", 1},        {"s", 1000},       {"m", 60'000},
      {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};
  auto it = ms.find(unit);
  if (it == ms.end()) return false;
  out = std::chrono::milliseconds(n * it->second);
  return true;
}

MapReader::MapReader(Loc loc, const YAML::Node& node) : loc_(std::move(loc)), node_(node) {
  if (!node.IsMap())
    raise(loc_, node.Mark(), fmt::format("expected a map, got {}", scalar_text(node)));
  std::map<std::string, int> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    auto [it, inserted] = seen.emplace(key, kv.first.Mark().line + 1);
    if (!inserted)
      raise(Loc{loc_.file, child_path(loc_.path, key)}, kv.first.Mark(),
            fmt::format("duplicate key '{}' (first defined at line {})", key, it->second));
  }
}

void MapReader::allow_only(std::initializer_list<std::string_view> keys) const {
  allow_only(std::vector<std::string_view>(keys));
}

void MapReader::allow_only(const std::vector<std::string_view>& keys) const {
  std::vector<std::string> allowed(keys.begin(), keys.end());
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string hint = closest_match(key, allowed);
    std::string msg = fmt::format("unknown key '{}'", key);
    if (!hint.empty()) msg += fmt::format("; did you mean '{}'?", hint);
    msg += fmt::format(" (expected one of: {})", fmt::join(allowed, ", "));
    raise(loc_, kv.first.Mark(), msg);
  }
}

bool MapReader::has(std::string_view key) const {
  for (const auto& kv : node_)
    if (kv.first.Scalar() == key) return !kv.second.IsNull();
  return false;
}

YAML::Node MapReader::get(std::string_view key) const {
  for (const auto& kv : node_)
    if (kv.first.Scalar() == key) return kv.second;
  raise(loc_, node_.Mark(), fmt::format("missing required key '{}'", key));
}

Loc MapReader::loc_of(std::string_view key) const {
  return Loc{loc_.file, child_path(loc_.path, key)};
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : node_) out.push_back(kv.first.Scalar());
  return out;
}

std::string MapReader::str(std::string_view key) const {
  YAML::Node n = get(key);
  if (!n.IsScalar())
    raise(loc_of(key), n.Mark(), fmt::format("expected a string, got {}", scalar_text(n)));
  return n.Scalar();
}

std::string MapReader::str_or(std::string_view key, std::string fallback) const {
  return has(key) ? str(key) : fallback;
}

int64_t MapReader::integer(std::string_view key, int64_t min_value) const {
  YAML::Node n = get(key);
  const std::string text = scalar_text(n);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!n.IsScalar() || ec != std::errc() || p != text.data() + text.size() || v < min_value)
    raise(loc_of(key), n.Mark(),
          fmt::format("value '{}' is not valid: expected an integer >= {}", text, min_value));
  return v;
}

int64_t MapReader::integer_or(std::string_view key, int64_t fallback, int64_t min_value) const {
  return has(key) ? integer(key, min_value) : fallback;
}

bool MapReader::boolean_or(std::string_view key, bool fallback) const {
  if (!has(key)) return fallback;
  YAML::Node n = get(key);
  const std::string t = scalar_text(n);
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  raise(loc_of(key), n.Mark(), fmt::format("value '{}' is not valid: expected true or false", t));
}

std::chrono::milliseconds MapReader::duration(std::string_view key) const {
  YAML::Node n = get(key);
  std::chrono::milliseconds out{};
  if (!n.IsScalar() || !parse_duration(n.Scalar(), out))
    raise(loc_of(key), n.Mark(),
          fmt::format("value '{}' is not valid: expected a duration like 500ms, 30s, 1m, 1h, 1d",
                      scalar_text(n)));
  return out;
}

std::chrono::milliseconds MapReader::duration_or(std::string_view key,
                                                 std::chrono::milliseconds fb) const {
  return has(key) ? duration(key) : fb;
}

std::vector<std::string> MapReader::str_list(std::string_view key) const {
  YAML::Node n = get(key);
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence())
    raise(loc_of(key), n.Mark(), fmt::format("expected a list of strings, got {}", scalar_text(n)));
  for (size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar())
      raise(Loc{loc_.file, fmt::format("{}[{}]", child_path(loc_.path, key), i)}, n[i].Mark(),
            fmt::format("expected a string, got {}", scalar_text(n[i])));
    out.push_back(n[i].Scalar());
  }
  return out;
}

std::string MapReader::split_window(std::string_view key) const {
  const std::string w = str(key);
  bool ok = w == "auto";
  if (!ok && w.size() >= 2 && std::string_view("dmy").find(w.back()) != std::string::npos) {
    int n = 0;
    auto [p, ec] = std::from_chars(w.data(), w.data() + w.size() - 1, n);
    ok = ec == std::errc() && p == w.data() + w.size() - 1 && n > 0 && n <= 10000;
  }
  if (!ok)
    raise(loc_of(key), get(key).Mark(),
          fmt::format("value '{}' is not valid: expected auto or a length like 30d, 6m, 3y", w));
  return w;
}

std::string MapReader::choice(std::string_view key, std::initializer_list<std::string_view> choices,
                              std::string fallback) const {
  if (!has(key)) {
    if (fallback.empty()) get(key);  // raises "missing required key"
    return fallback;
  }
  std::string v = str(key);
  std::vector<std::string> all(choices.begin(), choices.end());
  if (std::find(all.begin(), all.end(), v) != all.end()) return v;
  std::string hint = closest_match(v, all);
  raise(loc_of(key), get(key).Mark(),
        fmt::format("value '{}' is not valid: expected one of {}{}", v, fmt::join(all, ", "),
                    hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

}  // namespace finsync::config
