#pragma once
// The `rate_limits:` list, shared by provider files and the per-account overrides of
// finsync.yaml.
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "config/yaml_reader.hpp"

namespace finsync::config {

struct RateLimitDef {
  std::string scope = "account";  // account | endpoint | ip
  std::string endpoint;           // for scope endpoint
  int64_t limit = 0;
  std::chrono::milliseconds per{0};
  std::string align = "sliding";  // sliding | epoch | clock (from `reset`)
  std::chrono::minutes reset_offset{0};
  std::string zone;
  bool quota = false;  // default: per >= 1h
  std::string used_header;
  // A rate-limit message that states the real limit: regex with one group, the number.
  std::string limit_in_message;
  std::optional<std::regex> limit_in_message_re;
  std::string where;  // file:line:col of the entry
};

// Reads r[key] as a list of windows. Throws ConfigError.
std::vector<RateLimitDef> parse_rate_limits(const MapReader& r, std::string_view key);

}  // namespace finsync::config
