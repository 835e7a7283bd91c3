#include "options.hpp"

#include <charconv>
#include <cstdio>
#include <functional>
#include <string_view>

#include <fmt/format.h>

#include "crypto_market.hpp"
#include "dates.hpp"
#include "universe.hpp"

namespace emu {

namespace {

constexpr const char* kMainHelp = R"(finsync-emulator: a local stand-in for market-data APIs
(Tushare Pro, Alpha Vantage, Polygon.io, Binance spot)

usage:
  finsync-emulator serve [options]   serve the API over HTTP(S)
  finsync-emulator truth [options]   print the exact rows the API holds, as canonical CSV
  finsync-emulator <command> --help  options of a command
)";

constexpr const char* kServeHelp = R"(usage: finsync-emulator serve [options]

  --personality NAME     API to imitate: tushare (default), alphavantage, polygon, binance
  --host ADDR            address to listen on (default 127.0.0.1)
  --port N               TCP port, 0 = pick a free one (default 0)
  --port-file PATH       once listening, write the port and a newline to PATH (atomically)
  --seed N               data seed (default 42)
  --symbols N            size of the stock universe, 1..5000 (default 100)
  --last-date YYYYMMDD   no daily rows after this date (default 20301231, the calendar end)
  --publish-at HH:MM     tushare daily: a day's rows appear at this local time (--utc-offset);
                         before it that day and later ones have none (default: all published)
  --utc-offset +HH:MM    local time of --publish-at (default +08:00, Asia/Shanghai)
  --revision N           tushare daily: vendor revision N > 0 changes vol and amount of about
                         half the rows on or after --revised-from (default 0: as first published)
  --revised-from YYYYMMDD  first day revision N touches (default 0: every day)
  --calendar RULES       tushare: china (default: SSE/SZSE weekdays and holidays) or every-day
                         (every calendar day open, weekends too)
  --token TOKEN          the token (tushare) or API key (alphavantage, polygon) requests must
                         carry (default emulator-token)
  --row-cap N            tushare: daily answers are cut to the first N rows, 1..1000000
  --max-codes N          tushare: a daily ts_code list of more than N codes is a server
                         error (0 = any length; default 0)
                         (default 6000)
  --per-minute N         served requests per sliding minute, 0 = unlimited (default 0); per
                         api_name for tushare, per key for alphavantage and polygon (the Polygon
                         free tier allows 5)
  --per-day N            served requests per day window, 0 = unlimited (default 0); per api_name
                         for tushare, per key for alphavantage (free key: 25) and polygon
  --minute-seconds S     length of the "minute" window in seconds (default 60)
  --day-seconds S        length of the "day" window in seconds, aligned to the Unix epoch
                         (default 86400: UTC midnight)
  --audit-log PATH       append one JSON line per request received (the token is never written)
  --chaos-seed N         seed of the chaos RNG (default 1)
  --error-rate P         probability of an HTTP 500/502/503 answer (default 0)
  --drop-rate P          probability of closing the connection without answering (default 0)
  --truncate-rate P      probability of sending only half the body, then closing (default 0)
  --latency-ms N         delay every answer by N ms (default 0)
  --hang                 accept and read requests but never answer
  --tls-cert PEM         serve HTTPS with this certificate chain (needs --tls-key)
  --tls-key PEM          private key for --tls-cert
  --threads N            I/O threads, 1..16 (default 2)
  --limit-style STYLE    alphavantage: limits answered as {"Information": ...} (information,
                         the default, as today) or {"Note": ...} (note, before 2023)
  --plan-history-days N  polygon: 403 for bars older than N days before --last-date (default 0:
                         no limit; the free plan has about 730)
  --plan-tickers N       polygon: 403 for aggregates of tickers after the first N in ticker order
                         (default 0: all)
  --weight-limit N       binance: request weight per "minute" window, 0 = unlimited (default 6000)
  --help                 this text
)";

constexpr const char* kTruthHelp =
    R"(usage: finsync-emulator truth [--personality P] --api API [options]

Prints, as canonical CSV on stdout, the exact rows the API holds for this seed: no row cap,
no chaos. Header row; RFC 4180 quoting; LF line ends; dates YYYY-MM-DD; 2-decimal numbers
with exactly 2 decimals; integers as integers; null as an empty field.

  --personality P        tushare (default), alphavantage, polygon or binance
  --api API              tushare: daily, stock_basic or trade_cal (required);
                         alphavantage: daily (default) or listing_status;
                         polygon: aggs (default) or tickers; binance: klines (default)
  --seed N               data seed (default 42)
  --symbols N            size of the stock universe (default 100)
  --last-date YYYYMMDD   no daily rows after this date (default 20301231)
  --publish-at HH:MM     as the server option: days not published at this moment have no rows
  --utc-offset +HH:MM    as the server option
  --revision N           as the server option
  --revised-from YYYYMMDD  as the server option
  --calendar RULES       as the server option
  --ts-code A,B          only these codes (daily, stock_basic); may be repeated
  --trade-date YYYYMMDD  tushare daily: only this day (as the API's trade_date; wins over
                         --start/--end)
  --start YYYYMMDD       first date, inclusive (daily, trade_cal, aggs, klines)
  --end YYYYMMDD         last date, inclusive (daily, trade_cal, aggs, klines)
  --symbol A,B           alphavantage, polygon, binance: only these symbols; may be repeated
  --interval I           binance: kline interval, 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d
                         (default 1d); --start/--end are UTC days
  --plan-history-days N  polygon: as the server option (bars the plan allows)
  --plan-tickers N       polygon: as the server option
  --list-status L,D,P    only stocks with these statuses (daily, stock_basic; default all)
  --exchange SSE|SZSE    trade_cal: calendar name (default SSE); daily, stock_basic: only
                         stocks of that exchange (default all)
  --help                 this text

Order: by symbol (ts_code, ticker), then date or open time ascending; trade_cal by
cal_date ascending. Columns per personality: see docs/emulator.md.
)";

struct UsageError {
  std::string message;
};

template <class T>
T parse_uint(std::string_view name, std::string_view text, T lo, T hi) {
  T v{};
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v < lo ||
      v > hi) {
    throw UsageError{
        fmt::format("{}: expected an integer in {}..{}, got '{}'", name, lo, hi, text)};
  }
  return v;
}

double parse_double(std::string_view name, std::string_view text, double lo, double hi,
                    bool lo_inclusive = true) {
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() ||
      !(v >= lo && v <= hi) || (!lo_inclusive && v == lo)) {
    throw UsageError{fmt::format("{}: expected a number in {}{}..{}], got '{}'", name,
                                 lo_inclusive ? "[" : "(", lo, hi, text)};
  }
  return v;
}

int parse_date(std::string_view name, std::string_view text) {
  int v = 0;
  if (!parse_ymd(text, v))
    throw UsageError{fmt::format("{}: expected YYYYMMDD, got '{}'", name, text)};
  return v;
}

// "HH:MM" -> minutes after midnight.
int parse_clock(std::string_view name, std::string_view text) {
  const int hh =
      text.size() == 5 && text[2] == ':' ? parse_uint<int>(name, text.substr(0, 2), 0, 23) : -1;
  if (hh < 0) throw UsageError{fmt::format("{}: expected HH:MM, got '{}'", name, text)};
  return hh * 60 + parse_uint<int>(name, text.substr(3), 0, 59);
}

// "+08:00", "-05:30" -> minutes east of UTC.
int parse_offset(std::string_view name, std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-'))
    throw UsageError{fmt::format("{}: expected +HH:MM or -HH:MM, got '{}'", name, text)};
  const int m = parse_clock(name, text.substr(1));
  if (m > 14 * 60)
    throw UsageError{fmt::format("{}: expected at most 14:00, got '{}'", name, text)};
  return text[0] == '-' ? -m : m;
}

std::vector<std::string> split_commas(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

struct OptionSpec {
  std::string_view name;
  bool takes_value;
  std::function<void(std::string_view)> apply;
};

// Walks argv[first..] applying specs; --name value and --name=value are both accepted.
// Returns true if --help was given.
bool walk(int argc, char** argv, int first, const std::vector<OptionSpec>& specs) {
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return true;
    if (arg.substr(0, 2) != "--") throw UsageError{fmt::format("unexpected argument '{}'", arg)};
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) throw UsageError{fmt::format("unknown option '{}'", name)};
    if (!spec->takes_value) {
      if (value) throw UsageError{fmt::format("{} takes no value", name)};
      spec->apply({});
      continue;
    }
    if (!value) {
      if (i + 1 >= argc) throw UsageError{fmt::format("{} needs a value", name)};
      value = argv[++i];
    }
    spec->apply(*value);
  }
  return false;
}

// The options of Release, shared by serve and truth so that truth sees what serve serves.
void add_release_specs(std::vector<OptionSpec>& specs, Release& r) {
  specs.push_back({"--publish-at", true, [&](std::string_view v) {
                     r.publish_minutes = parse_clock("--publish-at", v);
                   }});
  specs.push_back({"--utc-offset", true, [&](std::string_view v) {
                     r.utc_offset_minutes = parse_offset("--utc-offset", v);
                   }});
  specs.push_back({"--revision", true, [&](std::string_view v) {
                     r.revision = parse_uint<int>("--revision", v, 0, 1000000);
                   }});
  specs.push_back({"--revised-from", true,
                   [&](std::string_view v) { r.revised_from = parse_date("--revised-from", v); }});
}

void add_calendar_spec(std::vector<OptionSpec>& specs, Calendar::Rules& rules) {
  specs.push_back({"--calendar", true, [&](std::string_view v) {
                     if (v == "china")
                       rules = Calendar::Rules::china;
                     else if (v == "every-day")
                       rules = Calendar::Rules::every_day;
                     else
                       throw UsageError{
                           fmt::format("--calendar: '{}' is not china or every-day", v)};
                   }});
}

std::vector<OptionSpec> serve_specs(ServeOptions& o) {
  std::vector<OptionSpec> specs = {
      {"--personality", true, [&](std::string_view v) { o.personality = v; }},
      {"--host", true, [&](std::string_view v) { o.host = v; }},
      {"--port", true,
       [&](std::string_view v) { o.port = parse_uint<std::uint16_t>("--port", v, 0, 65535); }},
      {"--port-file", true, [&](std::string_view v) { o.port_file = v; }},
      {"--seed", true,
       [&](std::string_view v) { o.seed = parse_uint<std::uint64_t>("--seed", v, 0, UINT64_MAX); }},
      {"--symbols", true,
       [&](std::string_view v) {
         o.symbols = parse_uint<int>("--symbols", v, 1, Universe::kMaxSymbols);
       }},
      {"--last-date", true,
       [&](std::string_view v) { o.last_date = parse_date("--last-date", v); }},
      {"--token", true,
       [&](std::string_view v) {
         if (v.empty()) throw UsageError{"--token must not be empty"};
         o.token = v;
       }},
      {"--max-codes", true,
       [&](std::string_view v) {
         o.max_codes = parse_uint<std::uint64_t>("--max-codes", v, 0, 1000000);
       }},
      {"--row-cap", true,
       [&](std::string_view v) {
         o.row_cap = parse_uint<std::uint64_t>("--row-cap", v, 1, 1000000);
       }},
      {"--per-minute", true,
       [&](std::string_view v) {
         o.per_minute = parse_uint<std::uint64_t>("--per-minute", v, 0, UINT64_MAX);
       }},
      {"--per-day", true,
       [&](std::string_view v) {
         o.per_day = parse_uint<std::uint64_t>("--per-day", v, 0, UINT64_MAX);
       }},
      {"--minute-seconds", true,
       [&](std::string_view v) {
         o.minute_seconds = parse_double("--minute-seconds", v, 0, 1e9, false);
       }},
      {"--day-seconds", true,
       [&](std::string_view v) {
         o.day_seconds = parse_double("--day-seconds", v, 0, 1e9, false);
       }},
      {"--audit-log", true, [&](std::string_view v) { o.audit_log = v; }},
      {"--chaos-seed", true,
       [&](std::string_view v) {
         o.chaos_seed = parse_uint<std::uint64_t>("--chaos-seed", v, 0, UINT64_MAX);
       }},
      {"--error-rate", true,
       [&](std::string_view v) { o.error_rate = parse_double("--error-rate", v, 0, 1); }},
      {"--drop-rate", true,
       [&](std::string_view v) { o.drop_rate = parse_double("--drop-rate", v, 0, 1); }},
      {"--truncate-rate", true,
       [&](std::string_view v) { o.truncate_rate = parse_double("--truncate-rate", v, 0, 1); }},
      {"--latency-ms", true,
       [&](std::string_view v) {
         o.latency_ms = parse_uint<std::uint64_t>("--latency-ms", v, 0, 3600000);
       }},
      {"--hang", false, [&](std::string_view) { o.hang = true; }},
      {"--tls-cert", true, [&](std::string_view v) { o.tls_cert = v; }},
      {"--tls-key", true, [&](std::string_view v) { o.tls_key = v; }},
      {"--threads", true,
       [&](std::string_view v) { o.threads = parse_uint<int>("--threads", v, 1, 16); }},
      {"--limit-style", true,
       [&](std::string_view v) {
         if (v != "information" && v != "note") {
           throw UsageError{
               fmt::format("--limit-style: expected information or note, got '{}'", v)};
         }
         o.limit_style = v;
       }},
      {"--plan-history-days", true,
       [&](std::string_view v) {
         o.plan_history_days = parse_uint<int>("--plan-history-days", v, 0, 100000);
       }},
      {"--plan-tickers", true,
       [&](std::string_view v) {
         o.plan_tickers = parse_uint<int>("--plan-tickers", v, 0, Universe::kMaxSymbols);
       }},
      {"--weight-limit", true,
       [&](std::string_view v) {
         o.weight_limit = parse_uint<std::uint64_t>("--weight-limit", v, 0, UINT64_MAX);
       }},
  };
  add_release_specs(specs, o.release);
  add_calendar_spec(specs, o.calendar);
  return specs;
}

std::vector<OptionSpec> truth_specs(TruthOptions& o) {
  std::vector<OptionSpec> specs = {
      {"--personality", true, [&](std::string_view v) { o.personality = v; }},
      {"--api", true, [&](std::string_view v) { o.api = v; }},
      {"--seed", true,
       [&](std::string_view v) { o.seed = parse_uint<std::uint64_t>("--seed", v, 0, UINT64_MAX); }},
      {"--symbols", true,
       [&](std::string_view v) {
         o.symbols = parse_uint<int>("--symbols", v, 1, Universe::kMaxSymbols);
       }},
      {"--last-date", true,
       [&](std::string_view v) { o.last_date = parse_date("--last-date", v); }},
      {"--ts-code", true,
       [&](std::string_view v) {
         for (std::string& c : split_commas(v)) o.ts_codes.push_back(std::move(c));
       }},
      {"--trade-date", true,
       [&](std::string_view v) { o.trade_date = parse_date("--trade-date", v); }},
      {"--symbol", true,
       [&](std::string_view v) {
         for (std::string& c : split_commas(v)) o.wanted.push_back(std::move(c));
       }},
      {"--interval", true, [&](std::string_view v) { o.interval = v; }},
      {"--plan-history-days", true,
       [&](std::string_view v) {
         o.plan_history_days = parse_uint<int>("--plan-history-days", v, 0, 100000);
       }},
      {"--plan-tickers", true,
       [&](std::string_view v) {
         o.plan_tickers = parse_uint<int>("--plan-tickers", v, 0, Universe::kMaxSymbols);
       }},
      {"--start", true, [&](std::string_view v) { o.start = parse_date("--start", v); }},
      {"--end", true, [&](std::string_view v) { o.end = parse_date("--end", v); }},
      {"--list-status", true,
       [&](std::string_view v) {
         o.list_status.clear();
         for (const std::string& s : split_commas(v)) {
           if (s != "L" && s != "D" && s != "P") {
             throw UsageError{fmt::format("--list-status: expected L, D or P, got '{}'", s)};
           }
           o.list_status += s;
         }
       }},
      {"--exchange", true,
       [&](std::string_view v) {
         if (v != "SSE" && v != "SZSE") {
           throw UsageError{fmt::format("--exchange: expected SSE or SZSE, got '{}'", v)};
         }
         o.exchange = v;
       }},
  };
  add_release_specs(specs, o.release);
  add_calendar_spec(specs, o.calendar);
  return specs;
}

bool known_personality(std::string_view p) {
  return p == "tushare" || p == "alphavantage" || p == "polygon" || p == "binance";
}

// Per-personality defaults and checks of `truth` options.
void check_truth(TruthOptions& o) {
  const std::string& p = o.personality;
  if (!known_personality(p)) {
    throw UsageError{fmt::format(
        "--personality: unknown '{}' (known: tushare, alphavantage, polygon, binance)", p)};
  }
  auto expect = [&](std::initializer_list<std::string_view> apis) {
    if (o.api.empty() && p != "tushare") o.api = *apis.begin();
    for (std::string_view a : apis) {
      if (o.api == a) return;
    }
    std::string known;
    for (std::string_view a : apis) known += (known.empty() ? "" : ", ") + std::string(a);
    throw UsageError{o.api.empty()
                         ? std::string("--api is required")
                         : fmt::format("--api: expected {} for {}, got '{}'", known, p, o.api)};
  };
  if (p == "tushare") {
    expect({"daily", "stock_basic", "trade_cal"});
    if (o.trade_date != 0) {
      o.start = o.trade_date;
      o.end = o.trade_date;
    }
  } else if (p == "alphavantage") {
    expect({"daily", "listing_status"});
  } else if (p == "polygon") {
    expect({"aggs", "tickers"});
  } else {
    expect({"klines"});
    if (CryptoMarket::interval_ms(o.interval) == 0) {
      throw UsageError{fmt::format("--interval: unknown '{}'", o.interval)};
    }
  }
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, Invocation& out) {
  const std::string_view command = argc > 1 ? argv[1] : "";
  try {
    if (command == "serve") {
      out.command = Command::serve;
      if (walk(argc, argv, 2, serve_specs(out.serve))) {
        std::fputs(kServeHelp, stdout);
        return 0;
      }
      if (!known_personality(out.serve.personality)) {
        throw UsageError{fmt::format(
            "--personality: unknown '{}' (known: tushare, alphavantage, polygon, binance)",
            out.serve.personality)};
      }
      if (out.serve.tls_cert.empty() != out.serve.tls_key.empty()) {
        throw UsageError{"--tls-cert and --tls-key go together"};
      }
      if (out.serve.error_rate + out.serve.drop_rate + out.serve.truncate_rate > 1.0) {
        throw UsageError{"--error-rate + --drop-rate + --truncate-rate must not exceed 1"};
      }
      return std::nullopt;
    }
    if (command == "truth") {
      out.command = Command::truth;
      if (walk(argc, argv, 2, truth_specs(out.truth))) {
        std::fputs(kTruthHelp, stdout);
        return 0;
      }
      check_truth(out.truth);
      return std::nullopt;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::fputs(kMainHelp, stdout);
      std::fputs("\n", stdout);
      std::fputs(kServeHelp, stdout);
      std::fputs("\n", stdout);
      std::fputs(kTruthHelp, stdout);
      return 0;
    }
    throw UsageError{command.empty() ? "missing command"
                                     : fmt::format("unknown command '{}'", command)};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "finsync-emulator: %s\n(run 'finsync-emulator --help')\n",
                 e.message.c_str());
    return 2;
  }
}

}  // namespace emu
