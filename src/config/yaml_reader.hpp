#pragma once
// Typed reading of YAML with errors that say file:line:col (1-based), the key path, the bad
// value and what was expected. yaml-cpp keeps the first of two equal keys silently; the reader
// rejects duplicates, and unknown keys come back with a "did you mean".
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/closest_match.hpp"
#include "core/error.hpp"

namespace finsync::config {

// Thrown inside the config module only; load functions turn it into an Error.
struct ConfigError {
  std::string message;
};

struct Loc {
  std::string file;
  std::string path;  // key path, e.g. endpoints.daily.max_rows_per_request
};

[[noreturn]] void raise(const Loc& loc, const YAML::Mark& mark, const std::string& message);

// Parses a whole document; syntax errors carry file:line:col.
YAML::Node parse_yaml(const std::string& text, const std::string& file);
std::string read_file(const std::string& path);

std::string child_path(const std::string& path, std::string_view key);
std::string scalar_text(const YAML::Node& n);

class MapReader {
 public:
  // Fails unless `node` is a map without duplicate keys.
  MapReader(Loc loc, const YAML::Node& node);

  void allow_only(std::initializer_list<std::string_view> keys) const;
  void allow_only(const std::vector<std::string_view>& keys) const;
  bool has(std::string_view key) const;
  YAML::Node get(std::string_view key) const;
  Loc loc_of(std::string_view key) const;
  const Loc& loc() const { return loc_; }
  const YAML::Node& node() const { return node_; }
  std::vector<std::string> keys() const;

  std::string str(std::string_view key) const;  // required scalar
  std::string str_or(std::string_view key, std::string fallback) const;
  int64_t integer(std::string_view key, int64_t min_value) const;
  int64_t integer_or(std::string_view key, int64_t fallback, int64_t min_value) const;
  bool boolean_or(std::string_view key, bool fallback) const;
  std::chrono::milliseconds duration(std::string_view key) const;
  std::chrono::milliseconds duration_or(std::string_view key, std::chrono::milliseconds fb) const;
  std::vector<std::string> str_list(std::string_view key) const;  // scalar or sequence
  // A planner window: "auto", or a length in days, months or years ("30d", "6m", "3y").
  std::string split_window(std::string_view key) const;
  // One of `choices`; error lists them.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> choices,
                     std::string fallback = "") const;

 private:
  Loc loc_;
  YAML::Node node_;
};

// "1m", "30s", "500ms", "2h", "1d", "1w".
bool parse_duration(std::string_view text, std::chrono::milliseconds& out);
using finsync::closest_match;

}  // namespace finsync::config
