// Command-line options of `finsync-emulator serve` and `finsync-emulator truth`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "calendar.hpp"
#include "daily_model.hpp"

namespace emu {

struct ServeOptions {
  std::string personality = "tushare";
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  std::uint64_t seed = 42;
  int symbols = 100;
  int last_date = 20301231;
  Release release;  // tushare daily: --publish-at, --utc-offset, --revision, --revised-from
  Calendar::Rules calendar = Calendar::Rules::china;  // tushare: --calendar
  std::string token = "emulator-token";
  std::uint64_t row_cap = 6000;
  std::uint64_t max_codes = 0;
  std::uint64_t per_minute = 0;
  std::uint64_t per_day = 0;
  double minute_seconds = 60;
  double day_seconds = 86400;
  std::string audit_log;
  std::uint64_t chaos_seed = 1;
  double error_rate = 0;
  double drop_rate = 0;
  double truncate_rate = 0;
  std::uint64_t latency_ms = 0;
  bool hang = false;
  std::string tls_cert;
  std::string tls_key;
  int threads = 2;
  // alphavantage: limits answered as {"Information": ...} (today) or {"Note": ...} (before 2023).
  std::string limit_style = "information";
  // polygon: the plan. 0 = unlimited.
  int plan_history_days = 0;
  int plan_tickers = 0;
  // binance: request weight per "minute" window; 0 = unlimited.
  std::uint64_t weight_limit = 6000;
};

struct TruthOptions {
  std::string personality = "tushare";
  std::uint64_t seed = 42;
  int symbols = 100;
  int last_date = 20301231;
  Release release;
  Calendar::Rules calendar = Calendar::Rules::china;
  std::string api;
  std::vector<std::string> ts_codes;
  int start = 0;
  int end = 99999999;
  int trade_date = 0;               // tushare daily: one day, wins over start/end
  std::string list_status;          // letters among L, D, P; empty = all
  std::string exchange;             // SSE, SZSE or empty
  std::vector<std::string> wanted;  // --symbol: alphavantage, polygon, binance; empty = all
  std::string interval = "1d";      // binance
  int plan_history_days = 0;        // polygon
  int plan_tickers = 0;             // polygon
};

enum class Command { serve, truth };

struct Invocation {
  Command command = Command::serve;
  ServeOptions serve;
  TruthOptions truth;
};

// Parses argv. Returns an exit code when the program should stop right away (after --help: 0,
// after a usage error: 2, with a message on stderr); std::nullopt to go on.
std::optional<int> parse_command_line(int argc, char** argv, Invocation& out);

}  // namespace emu
