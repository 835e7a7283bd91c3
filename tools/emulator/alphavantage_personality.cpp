#include "alphavantage_personality.hpp"

#include <fmt/format.h>

#include "dates.hpp"
#include "rest_common.hpp"
#include "table.hpp"

namespace emu {

namespace {

constexpr std::string_view kMsgBadKey =
    "the parameter apikey is invalid or missing. Please claim your free API key on "
    "(https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.";
constexpr std::string_view kPremiumUrl = "https://www.alphavantage.co/premium/";

std::string invalid_call(std::string_view function) {
  return fmt::format(
      "Invalid API call. Please retry or visit the documentation "
      "(https://www.alphavantage.co/documentation/) for {}.",
      function);
}

// Alpha Vantage pretty-prints its JSON with four-space indents; one-key messages look like
// {\n    "Error Message": "..."\n}.
std::string message_body(std::string_view key, std::string_view text) {
  std::string out = "{\n    ";
  append_json_string(out, key);
  out += ": ";
  append_json_string(out, text);
  out += "\n}";
  return out;
}

// Prices are 2-decimal values written the way Alpha Vantage writes them: four decimals.
void append_price(std::string& out, std::int64_t cents) {
  append_scaled(out, cents, 4);
}

// "YYYY-MM-DD" -> YYYYMMDD.
bool parse_dashed(std::string_view text, int& ymd) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  std::string digits;
  digits.append(text.substr(0, 4)).append(text.substr(5, 2)).append(text.substr(8, 2));
  return parse_ymd(digits, ymd);
}

}  // namespace

AlphaVantagePersonality::AlphaVantagePersonality(std::shared_ptr<const UsMarket> market,
                                                 AlphaVantageConfig config,
                                                 std::shared_ptr<Chaos> chaos)
    : market_(std::move(market)),
      config_(std::move(config)),
      chaos_(std::move(chaos)),
      limiter_(config_.per_minute, config_.per_day, config_.minute_seconds, config_.day_seconds) {}

void AlphaVantagePersonality::describe(const HttpRequest& req, AuditRecord& audit) const {
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  const auto fn = params.find("function");
  if (fn != params.end()) audit.api_name = fn->second;
  audit.params = audit_params(params, {"apikey"});
  audit.token = params.count("apikey") != 0 ? "***" : "missing";
}

HttpReply AlphaVantagePersonality::handle(const HttpRequest& req) {
  HttpReply reply;
  AuditRecord& audit = reply.audit;
  describe(req, audit);
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  auto get = [&](std::string_view key) -> std::string_view {
    const auto it = params.find(key);
    return it == params.end() ? std::string_view{} : std::string_view(it->second);
  };
  auto fail = [&](int status, std::string_view key, std::string_view text, const char* outcome) {
    reply.http_status = status;
    reply.body = message_body(key, text);
    audit.outcome = outcome;
    return reply;
  };

  if (req.method != "GET" && req.method != "POST") {
    return fail(405, "Error Message", "Method not allowed: use GET /query", "bad_request");
  }
  if (path != "/query" && path != "/query/") {
    return fail(404, "Error Message", "Not found: use GET /query", "bad_request");
  }
  if (get("apikey") != config_.apikey) return fail(200, "Error Message", kMsgBadKey, "auth");

  const std::string_view function = get("function");
  const bool daily = function == "TIME_SERIES_DAILY";
  if (!daily && function != "LISTING_STATUS") {
    return fail(200, "Error Message",
                fmt::format("This API function ({}) does not exist.", function), "bad_request");
  }
  const Stock* stock = nullptr;
  int as_of = market_->last_date();
  if (daily) {
    stock = market_->find(get("symbol"));
    // Alpha Vantage serves only listed symbols' time series.
    if (stock == nullptr || stock->list_status != "L") {
      return fail(200, "Error Message", invalid_call(function), "bad_request");
    }
  } else if (!get("date").empty() && !parse_dashed(get("date"), as_of)) {
    return fail(200, "Error Message", invalid_call(function), "bad_request");
  }

  // Limits count every served call of the key, whatever the function.
  ChaosVerdict verdict;
  {
    std::lock_guard lock(gate_);
    const RateLimiter::Verdict v = limiter_.check("key", req.arrival);
    if (v != RateLimiter::Verdict::ok) {
      const bool day = v == RateLimiter::Verdict::day;
      const char* outcome = day ? "rate_limited_day" : "rate_limited_minute";
      if (config_.note_style) {
        std::string rate;
        if (config_.per_minute != 0) rate = fmt::format("{} calls per minute", config_.per_minute);
        if (config_.per_day != 0) {
          rate += fmt::format("{}{} calls per day", rate.empty() ? "" : " and ", config_.per_day);
        }
        return fail(
            200, "Note",
            fmt::format("Thank you for using Alpha Vantage! Our standard API call frequency "
                        "is {}. Please visit {} if you would like to target a higher API "
                        "call frequency.",
                        rate, kPremiumUrl),
            outcome);
      }
      if (day) {
        return fail(200, "Information",
                    fmt::format("Thank you for using Alpha Vantage! Our standard API rate limit is "
                                "{} requests per day. Please subscribe to any of the premium plans "
                                "at {} to instantly remove all daily rate limits.",
                                config_.per_day, kPremiumUrl),
                    outcome);
      }
      return fail(200, "Information",
                  fmt::format("Thank you for using Alpha Vantage! Please consider spreading out "
                              "your free API requests more sparingly ({} requests per minute). You "
                              "may subscribe to any of the premium plans at {} to raise the burst "
                              "limit and instantly access all premium endpoints.",
                              config_.per_minute, kPremiumUrl),
                  outcome);
    }
    verdict = chaos_->decide();
    if (verdict.fault == Fault::none) limiter_.record("key", req.arrival);
  }
  if (apply_replacing_fault(verdict, reply)) return reply;

  std::string& out = reply.body;
  audit.outcome = "ok";
  if (!daily) {
    // LISTING_STATUS: always CSV. Active: listed on `date` and not delisted by it; delisted:
    // delisted on or before `date`.
    const bool want_delisted = get("state") == "delisted";
    reply.content_type = "text/csv";
    out = "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n";
    for (const Stock& s : market_->tickers()) {
      if (s.list_date > as_of) continue;
      const bool delisted = s.delist_date != 0 && s.delist_date <= as_of;
      if (delisted != want_delisted) continue;
      out += fmt::format("{},{},{},Stock,", s.ts_code, s.name, s.exchange);
      append_ymd_dashed(out, s.list_date);
      out += ',';
      if (delisted) {
        append_ymd_dashed(out, s.delist_date);
      } else {
        out += "null";
      }
      out += delisted ? ",Delisted\r\n" : ",Active\r\n";
      ++audit.rows;
    }
    finish_fault(verdict, reply);
    return reply;
  }

  const std::vector<UsBar> all = market_->bars(*stock, 0, 99999999);
  const bool full = get("outputsize") == "full";
  const std::size_t n = full ? all.size() : std::min(all.size(), kAlphaVantageCompactRows);
  audit.rows = n;
  audit.capped = n < all.size();
  if (get("datatype") == "csv") {
    // Served as a download, newest first, CRLF line ends.
    reply.content_type = "application/x-download";
    reply.headers.emplace_back("Content-Disposition",
                               fmt::format("attachment; filename=daily_{}.csv", stock->ts_code));
    out = "timestamp,open,high,low,close,volume\r\n";
    for (std::size_t k = 0; k < n; ++k) {
      const UsBar& b = all[all.size() - 1 - k];
      append_ymd_dashed(out, b.date);
      for (std::int64_t v : {b.open, b.high, b.low, b.close}) {
        out += ',';
        append_price(out, v);
      }
      out += fmt::format(",{}\r\n", b.volume);
    }
    finish_fault(verdict, reply);
    return reply;
  }
  out =
      "{\n    \"Meta Data\": {\n        \"1. Information\": \"Daily Prices (open, high, low, "
      "close) and Volumes\",\n        \"2. Symbol\": ";
  append_json_string(out, stock->ts_code);
  out += ",\n        \"3. Last Refreshed\": \"";
  if (!all.empty()) append_ymd_dashed(out, all.back().date);
  out += full ? "\",\n        \"4. Output Size\": \"Full size\""
              : "\",\n        \"4. Output Size\": \"Compact\"";
  out += ",\n        \"5. Time Zone\": \"US/Eastern\"\n    },\n    \"Time Series (Daily)\": {";
  for (std::size_t k = 0; k < n; ++k) {
    const UsBar& b = all[all.size() - 1 - k];
    out += k == 0 ? "\n        \"" : ",\n        \"";
    append_ymd_dashed(out, b.date);
    out += "\": {\n            \"1. open\": \"";
    append_price(out, b.open);
    out += "\",\n            \"2. high\": \"";
    append_price(out, b.high);
    out += "\",\n            \"3. low\": \"";
    append_price(out, b.low);
    out += "\",\n            \"4. close\": \"";
    append_price(out, b.close);
    out += fmt::format("\",\n            \"5. volume\": \"{}\"\n        }}", b.volume);
  }
  out += "\n    }\n}";
  finish_fault(verdict, reply);
  return reply;
}

}  // namespace emu
