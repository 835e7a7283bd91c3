#pragma once
// A provider definition as the YAML states it. Values that may hold ${VAR} stay raw until a
// command needs them (see env.hpp).
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/env.hpp"
#include "config/rate_limits.hpp"
#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::config {

struct AuthDef {
  std::string kind = "none";  // none | header | query | body_field
  std::string field;          // header name, query parameter or body field
  std::string prefix;         // e.g. "Bearer " for headers
  RawValue value;
};

struct ErrorRuleDef {
  std::vector<int> statuses;        // empty = any
  std::string json_path;            // e.g. $.code
  std::vector<std::string> equals;  // json value (as text) in this set
  std::vector<std::string> not_equals;
  std::string message_matches;  // ECMAScript regex on the message, UTF-8
  std::optional<std::regex> message_re;
  ErrorKind kind = ErrorKind::permanent;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string where;
};

struct ParamDef {
  std::string name;
  std::string type = "string";  // string | date | int
  std::string format;           // for dates, strftime-like: %Y%m%d
};

struct ColumnDef {
  std::string name;
  DataType type = DataType::string;
  std::string format;  // date/timestamp text format in responses
};

struct RowsDef {
  std::string kind = "objects";  // fields_items | objects
  std::string fields;            // fields_items: path of the column names
  std::string items;             // path of the rows
};

struct RequestDef {
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> query;    // name -> template
  std::vector<std::pair<std::string, std::string>> headers;  // name -> template
  YAML::Node body;  // JSON body template; strings "{auth}", "{params}", "{fields}", "{name}"
};

struct UniverseDef {
  std::string symbol_column;
  std::string list_date_column;
  std::string delist_date_column;
  std::string status_param;
  std::vector<std::string> statuses;  // queried one by one; all by default
};

struct EndpointDef {
  std::string name;
  std::string api_name;  // "{endpoint}" in templates; defaults to name
  RequestDef request;
  std::vector<ParamDef> params;
  std::string window_start_param, window_end_param;
  std::string symbol_param;
  RowsDef rows;
  std::vector<ColumnDef> columns;
  std::vector<std::string> primary_key;
  std::string time_column;
  int64_t max_rows_per_request = 0;   // 0 = no cap known
  std::string split_window = "auto";  // auto | <n>d | <n>m | <n>y
  // Request weight: fixed, or by the value of one parameter (Binance depth: by `limit`).
  int64_t weight = 1;
  std::string weight_param;
  int64_t weight_param_default = 0;
  std::vector<std::pair<int64_t, int64_t>> weight_steps;  // (value up to, weight), ascending

  int64_t weight_for(const std::vector<std::pair<std::string, std::string>>& params) const;
  std::optional<UniverseDef> universe;
  std::string where;

  const ParamDef* param(std::string_view n) const;
  Schema schema() const;
};

struct CalendarDef {
  std::string endpoint;
  std::vector<std::pair<std::string, std::string>> params;
  std::string date_column;
  std::string open_column;
};

struct ProviderDef {
  std::string name;
  std::string description;
  std::string source;  // file it came from
  RawValue base_url;
  AuthDef auth;
  std::vector<RateLimitDef> rate_limits;
  int max_in_flight = 0;  // 0 = no cap beyond the run's concurrency
  std::vector<ErrorRuleDef> errors;
  std::string message_path;  // where the error message lives in a body, e.g. $.msg
  std::optional<CalendarDef> calendar;
  std::map<std::string, EndpointDef> endpoints;

  const EndpointDef* endpoint(std::string_view n) const;
};

// Parses one provider file's text. `file` is used in error locations.
Result<ProviderDef> parse_provider(const std::string& text, const std::string& file);

}  // namespace finsync::config
