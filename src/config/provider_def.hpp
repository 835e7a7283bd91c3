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
  // present: the path exists (any value, objects too); absent: it does not. Unset with a bare
  // `json`: the path holds a scalar.
  std::optional<bool> present;
  std::string message_matches;  // ECMAScript regex on the message, UTF-8
  std::optional<std::regex> message_re;
  ErrorKind kind = ErrorKind::permanent;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string where;
};

struct ParamDef {
  std::string name;
  std::string type = "string";  // string | date | int
  // For dates, strftime-like (%Y%m%d), or epoch_ms: a window start as the day's first
  // millisecond, a window end as its last (Binance startTime/endTime).
  std::string format;
};

struct ColumnDef {
  std::string name;
  DataType type = DataType::string;
  std::string format;  // date text format; timestamps: epoch_ms | epoch_s (default: microseconds)
  // Filled from this request parameter, for vendors that name the symbol once per answer
  // (Alpha Vantage, Polygon aggregates, Binance klines) instead of on every row.
  std::string from_param;
};

struct RowsDef {
  // fields_items | objects | keyed_object | arrays | csv
  std::string kind = "objects";
  std::string fields;  // fields_items: path of the column names
  std::string items;   // path of the rows (not used by csv)
  // keyed_object: the column that receives each row's key (Alpha Vantage: the date).
  std::string key_column;
  // keyed_object, objects and csv: response name -> column, for vendor names that are not
  // column names ("1. open"); unmapped names that equal a column name map to it.
  std::vector<std::pair<std::string, std::string>> rename;
  // arrays: the column of each position; "" skips a position.
  std::vector<std::string> positions;
};

struct PaginationDef {
  std::string kind = "none";  // none | next_url | offset
  std::string path;           // next_url: where the absolute URL of the next page is
  std::string offset_param, limit_param;
  int64_t page_size = 0;
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

// How the planner may cut a plan of this endpoint into requests (`split.strategies`); the
// planner prices each and takes the one that needs the fewest.
struct SplitDef {
  // symbol_window | symbol_list | date_all_symbols, as declared: the first wins a tie.
  std::vector<std::string> strategies = {"symbol_window"};
  // symbol_list: up to `list_max` symbols in one request, joined by `list_separator` into
  // `list_param` (by default the symbol parameter: Tushare's comma-separated ts_code).
  std::string list_param;
  std::string list_separator = ",";
  int64_t list_max = 0;
  // date_all_symbols: one trading day of every symbol through the date parameter `date_param`
  // (Tushare trade_date); `universe` is the endpoint that lists every symbol such an answer may
  // hold, `symbol_column` the column naming each row's symbol.
  std::string date_param;
  std::string universe;
  std::string symbol_column;

  bool allows(std::string_view strategy) const;
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
  // time: windows sized by the row cap; symbol: one task per symbol over the whole range, for
  // APIs without window parameters (their rows outside the task's window are dropped).
  std::string split_by = "time";
  SplitDef split;
  std::string split_universe_where;  // file:line:col of split.date_all_symbols.universe
  // A parameter holding a bar length ("1h", "15m", "1d"): rows per day for window sizing.
  std::string interval_param;
  PaginationDef pagination;
  // Request weight: fixed, or by the value of one parameter (Binance depth: by `limit`).
  int64_t weight = 1;
  std::string weight_param;
  int64_t weight_param_default = 0;
  std::vector<std::pair<int64_t, int64_t>> weight_steps;  // (value up to, weight), ascending

  int64_t weight_for(const std::vector<std::pair<std::string, std::string>>& params) const;
  std::optional<UniverseDef> universe;
  // `available_after: "16:00 Asia/Shanghai"`: a day's data is published at this local time;
  // before it the day is provisional. The zone is also where `today` is reckoned (UTC without).
  std::optional<std::chrono::minutes> available_after;
  std::string zone = "UTC";
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
  bool continuous = false;  // `calendar: continuous`: every day is a trading day (crypto)
  std::map<std::string, EndpointDef> endpoints;

  const EndpointDef* endpoint(std::string_view n) const;
};

// Parses one provider file's text. `file` is used in error locations.
Result<ProviderDef> parse_provider(const std::string& text, const std::string& file);

}  // namespace finsync::config
