#include "polygon_personality.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "dates.hpp"
#include "query_string.hpp"
#include "rest_common.hpp"
#include "table.hpp"

namespace emu {

namespace {

constexpr std::string_view kPricing = "https://polygon.io/pricing";
constexpr std::string_view kAggsTemplate =
    "/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}";
constexpr long long kDefaultLimit = 5000, kMaxLimit = 50000;
constexpr long long kTickersDefaultLimit = 100, kTickersMaxLimit = 1000;

// The key from ?apiKey= (first) or "Authorization: Bearer KEY"; `present` tells if either came.
std::string key_of(const HttpRequest& req, const QueryParams& params, bool& present) {
  const auto it = params.find("apiKey");
  if (it != params.end()) {
    present = true;
    return it->second;
  }
  const std::string_view auth = req.header("authorization");
  present = !auth.empty();
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    return std::string(auth.substr(7));
  }
  return {};
}

std::string status_body(std::string_view status, std::string_view request_id, std::string_view key,
                        std::string_view text) {
  std::string out = "{\"status\":";
  append_json_string(out, status);
  out += ",\"request_id\":";
  append_json_string(out, request_id);
  out += ",\"";
  out += key;
  out += "\":";
  append_json_string(out, text);
  out += '}';
  return out;
}

// A time bound of the aggregates path: YYYY-MM-DD (New York midnight of that day) or Unix ms.
bool parse_bound(std::string_view text, std::int64_t& ms) {
  long long v = 0;
  if (parse_int64(text, v)) {
    ms = v;
    return true;
  }
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  std::string digits;
  digits.append(text.substr(0, 4)).append(text.substr(5, 2)).append(text.substr(8, 2));
  int ymd = 0;
  if (!parse_ymd(digits, ymd)) return false;
  const int m = ymd / 100 % 100, d = ymd % 100;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  ms = ny_midnight_ms(days_from_ymd(ymd));
  return true;
}

std::string host_of(const HttpRequest& req) {
  const std::string_view host = req.header("host");
  return host.empty() ? std::string("127.0.0.1") : std::string(host);
}

}  // namespace

PolygonPersonality::PolygonPersonality(std::shared_ptr<const UsMarket> market, PolygonConfig config,
                                       std::shared_ptr<Chaos> chaos)
    : market_(std::move(market)),
      config_(std::move(config)),
      chaos_(std::move(chaos)),
      limiter_(config_.per_minute, config_.per_day, config_.minute_seconds, config_.day_seconds) {}

void PolygonPersonality::describe(const HttpRequest& req, AuditRecord& audit) const {
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  const std::vector<std::string_view> s = path_segments(path);
  nlohmann::json logged = audit_params(params, {"apiKey"});
  if (s.size() == 9 && s[0] == "v2" && s[1] == "aggs" && s[2] == "ticker" && s[4] == "range") {
    audit.api_name = std::string(kAggsTemplate);
    logged["ticker"] = std::string(s[3]);
    logged["multiplier"] = std::string(s[5]);
    logged["timespan"] = std::string(s[6]);
    logged["from"] = std::string(s[7]);
    logged["to"] = std::string(s[8]);
  } else {
    audit.api_name = path;
  }
  audit.params = std::move(logged);
  bool present = false;
  key_of(req, params, present);
  audit.token = present ? "***" : "missing";
}

bool PolygonPersonality::admit(const HttpRequest& req, HttpReply& reply, ChaosVerdict& verdict) {
  std::lock_guard lock(gate_);
  const RateLimiter::Verdict v = limiter_.check("key", req.arrival);
  if (v != RateLimiter::Verdict::ok) {
    // 429 with a JSON body and, as on Polygon, no Retry-After.
    reply.http_status = 429;
    reply.body = status_body("ERROR", hex_request_id(req.seq), "error",
                             "You've exceeded the maximum requests per minute, please wait or "
                             "upgrade your subscription to continue. https://polygon.io/pricing");
    reply.audit.outcome =
        v == RateLimiter::Verdict::day ? "rate_limited_day" : "rate_limited_minute";
    return false;
  }
  verdict = chaos_->decide();
  if (verdict.fault == Fault::none) limiter_.record("key", req.arrival);
  return !apply_replacing_fault(verdict, reply);
}

HttpReply PolygonPersonality::handle(const HttpRequest& req) {
  HttpReply reply;
  describe(req, reply.audit);
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  const std::string id = hex_request_id(req.seq);
  auto fail = [&](int status, std::string_view st, std::string_view key, std::string_view text,
                  const char* outcome) {
    reply.http_status = status;
    reply.body = status_body(st, id, key, text);
    reply.audit.outcome = outcome;
    return reply;
  };
  if (req.method != "GET") return fail(405, "ERROR", "error", "Method not allowed", "bad_request");
  const std::vector<std::string_view> s = path_segments(path);
  const bool is_aggs =
      s.size() == 9 && s[0] == "v2" && s[1] == "aggs" && s[2] == "ticker" && s[4] == "range";
  const bool is_tickers = s.size() == 3 && s[0] == "v3" && s[1] == "reference" && s[2] == "tickers";
  if (!is_aggs && !is_tickers) return fail(404, "NOT_FOUND", "message", "Not found", "bad_request");
  bool present = false;
  const std::string key = key_of(req, params, present);
  if (!present || key.empty()) {
    return fail(401, "ERROR", "error", "API Key was not provided", "auth");
  }
  if (key != config_.apikey) return fail(401, "ERROR", "error", "Unknown API Key", "auth");
  return is_aggs ? aggs(req, std::move(reply)) : tickers(req, std::move(reply));
}

HttpReply PolygonPersonality::aggs(const HttpRequest& req, HttpReply reply) {
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  const std::vector<std::string_view> seg = path_segments(path);
  const std::string ticker(seg[3]);
  const std::string_view from_text = seg[7], to_text = seg[8];
  const std::string id = hex_request_id(req.seq);
  auto fail = [&](int status, std::string_view st, std::string_view key, std::string_view text,
                  const char* outcome) {
    reply.http_status = status;
    reply.body = status_body(st, id, key, text);
    reply.audit.outcome = outcome;
    return reply;
  };

  // A cursor (from a next_url) carries the query options of the first request.
  QueryParams options = params;
  if (const auto c = params.find("cursor"); c != params.end()) {
    std::string decoded, unused;
    if (!base64url_decode(c->second, decoded)) {
      return fail(400, "ERROR", "error", "Invalid cursor", "bad_request");
    }
    QueryParams from_cursor;
    split_target("?" + decoded, unused, from_cursor);
    for (auto& [k, v] : from_cursor) options[k] = v;
  }
  auto get = [&](std::string_view k, std::string_view fallback) -> std::string_view {
    const auto it = options.find(k);
    return it == options.end() || it->second.empty() ? fallback : std::string_view(it->second);
  };
  long long multiplier = 0;
  if (!parse_int64(seg[5], multiplier) || multiplier < 1) {
    return fail(400, "ERROR", "error", "Could not parse the multiplier", "bad_request");
  }
  if (seg[6] != "day" || multiplier != 1) {
    // The emulator only keeps daily bars.
    return fail(400, "ERROR", "error",
                "finsync-emulator supports multiplier 1 with timespan 'day' only", "bad_request");
  }
  std::int64_t from_ms = 0, to_ms = 0;
  if (!parse_bound(from_text, from_ms)) {
    return fail(400, "ERROR", "error",
                "Could not parse the time parameter: 'from'. Use YYYY-MM-DD or Unix MS Timestamps",
                "bad_request");
  }
  if (!parse_bound(to_text, to_ms)) {
    return fail(400, "ERROR", "error",
                "Could not parse the time parameter: 'to'. Use YYYY-MM-DD or Unix MS Timestamps",
                "bad_request");
  }
  const std::string_view adjusted = get("adjusted", "true");
  const std::string_view sort = get("sort", "asc");
  long long limit = kDefaultLimit;
  if (adjusted != "true" && adjusted != "false") {
    return fail(400, "ERROR", "error", "Invalid value for 'adjusted': use true or false",
                "bad_request");
  }
  if (sort != "asc" && sort != "desc") {
    return fail(400, "ERROR", "error", "Invalid value for 'sort': use asc or desc", "bad_request");
  }
  if (options.count("limit") != 0 && !options.at("limit").empty()) {
    if (!parse_int64(options.at("limit"), limit) || limit < 1) {
      return fail(400, "ERROR", "error", "Invalid value for 'limit'", "bad_request");
    }
    limit = std::min(limit, kMaxLimit);
  }

  // Plan checks: tickers outside the plan, then history older than the plan allows.
  const Stock* stock = market_->find(ticker);
  if (config_.plan_tickers > 0 && stock != nullptr) {
    const auto& all = market_->tickers();
    const auto index = static_cast<std::size_t>(stock - all.data());
    if (index >= static_cast<std::size_t>(config_.plan_tickers)) {
      return fail(403, "NOT_AUTHORIZED", "message",
                  fmt::format("You are not entitled to this data. Please upgrade your plan at {}",
                              kPricing),
                  "not_authorized");
    }
  }
  if (config_.plan_history_days > 0) {
    const int earliest = days_from_ymd(market_->last_date()) - config_.plan_history_days;
    if (from_ms < ny_midnight_ms(earliest)) {
      return fail(403, "NOT_AUTHORIZED", "message",
                  fmt::format("Your plan doesn't include this data timeframe. Please upgrade your "
                              "plan at {}",
                              kPricing),
                  "not_authorized");
    }
  }

  ChaosVerdict verdict;
  if (!admit(req, reply, verdict)) return reply;

  // Bars whose timestamp (New York midnight) lies in [from_ms, to_ms].
  std::vector<UsBar> bars;
  if (stock != nullptr && from_ms <= to_ms) {
    const int lo = ymd_from_days(ny_day_of_ms(from_ms));
    const int hi = ymd_from_days(ny_day_of_ms(to_ms));
    for (const UsBar& b : market_->bars(*stock, lo, hi)) {
      const std::int64_t t = ny_midnight_ms(days_from_ymd(b.date));
      if (t >= from_ms && t <= to_ms) bars.push_back(b);
    }
  }
  if (sort == "desc") std::reverse(bars.begin(), bars.end());
  const std::size_t n = std::min(bars.size(), static_cast<std::size_t>(limit));

  std::string& out = reply.body;
  out = "{\"ticker\":";
  append_json_string(out, ticker);
  out += fmt::format(",\"queryCount\":{},\"resultsCount\":{},\"adjusted\":{}", n, n, adjusted);
  if (n > 0) {
    out += ",\"results\":[";
    for (std::size_t k = 0; k < n; ++k) {
      const UsBar& b = bars[k];
      out += k == 0 ? "{\"v\":" : ",{\"v\":";
      out += std::to_string(b.volume);
      out += ",\"vw\":";
      append_cents(out, UsMarket::vwap(b));
      out += ",\"o\":";
      append_cents(out, b.open);
      out += ",\"c\":";
      append_cents(out, b.close);
      out += ",\"h\":";
      append_cents(out, b.high);
      out += ",\"l\":";
      append_cents(out, b.low);
      out += fmt::format(",\"t\":{},\"n\":{}}}", ny_midnight_ms(days_from_ymd(b.date)),
                         UsMarket::trades(*stock, b));
    }
    out += ']';
  }
  out += ",\"status\":\"OK\",\"request_id\":\"" + hex_request_id(req.seq) + "\"";
  out += fmt::format(",\"count\":{}", n);
  if (n < bars.size()) {
    // Like Polygon: the next page starts (or, descending, ends) at the next bar's timestamp; the
    // cursor keeps the query options; the key is not carried over.
    const std::int64_t next_t = ny_midnight_ms(days_from_ymd(bars[n].date));
    const std::string cursor = fmt::format("adjusted={}&limit={}&sort={}", adjusted, limit, sort);
    const std::string from_part = sort == "asc" ? std::to_string(next_t) : std::string(from_text);
    const std::string to_part = sort == "asc" ? std::string(to_text) : std::to_string(next_t);
    out += fmt::format(",\"next_url\":\"{}://{}/v2/aggs/ticker/{}/range/1/day/{}/{}?cursor={}\"",
                       config_.scheme, host_of(req), percent_encode(ticker), from_part, to_part,
                       base64url_encode(cursor));
  }
  out += '}';
  reply.audit.outcome = "ok";
  reply.audit.rows = n;
  reply.audit.capped = n < bars.size();
  finish_fault(verdict, reply);
  return reply;
}

HttpReply PolygonPersonality::tickers(const HttpRequest& req, HttpReply reply) {
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  QueryParams options = params;
  const std::string id = hex_request_id(req.seq);
  if (const auto c = params.find("cursor"); c != params.end()) {
    std::string decoded, unused;
    if (!base64url_decode(c->second, decoded)) {
      reply.http_status = 400;
      reply.body = status_body("ERROR", id, "error", "Invalid cursor");
      reply.audit.outcome = "bad_request";
      return reply;
    }
    QueryParams from_cursor;
    split_target("?" + decoded, unused, from_cursor);
    for (auto& [k, v] : from_cursor) options[k] = v;
  }
  auto get = [&](std::string_view k) -> std::string_view {
    const auto it = options.find(k);
    return it == options.end() ? std::string_view{} : std::string_view(it->second);
  };
  long long limit = kTickersDefaultLimit;
  if (!get("limit").empty()) {
    if (!parse_int64(get("limit"), limit) || limit < 1) {
      reply.http_status = 400;
      reply.body = status_body("ERROR", id, "error", "Invalid value for 'limit'");
      reply.audit.outcome = "bad_request";
      return reply;
    }
    limit = std::min(limit, kTickersMaxLimit);
  }
  const std::string active = get("active") == "false" ? "false" : "true";
  const std::string_view market = get("market");
  const std::string_view only = get("ticker");
  const std::string_view after = get("page_marker");

  ChaosVerdict verdict;
  if (!admit(req, reply, verdict)) return reply;

  std::vector<const Stock*> rows;
  if (market.empty() || market == "stocks") {
    for (const Stock& s : market_->tickers()) {
      if ((s.list_status == "L") != (active == "true")) continue;
      if (!only.empty() && s.ts_code != only) continue;
      if (!after.empty() && s.ts_code <= after) continue;
      rows.push_back(&s);
    }
  }
  const std::size_t n = std::min(rows.size(), static_cast<std::size_t>(limit));
  std::string& out = reply.body;
  out = "{\"results\":[";
  for (std::size_t k = 0; k < n; ++k) {
    const Stock& s = *rows[k];
    if (k) out += ',';
    out += "{\"ticker\":";
    append_json_string(out, s.ts_code);
    out += ",\"name\":";
    append_json_string(out, s.name);
    out += fmt::format(
        ",\"market\":\"stocks\",\"locale\":\"us\",\"primary_exchange\":\"{}\",\"type\":\"CS\","
        "\"active\":{},\"currency_name\":\"usd\"",
        s.exchange == "NYSE" ? "XNYS" : "XNAS", s.list_status == "L" ? "true" : "false");
    if (s.delist_date != 0) {
      out += ",\"delisted_utc\":\"";
      append_ymd_dashed(out, s.delist_date);
      out += "T00:00:00Z\"";
    }
    out += '}';
  }
  out += fmt::format("],\"status\":\"OK\",\"request_id\":\"{}\",\"count\":{}", id, n);
  if (n < rows.size()) {
    const std::string cursor =
        fmt::format("active={}&limit={}&market=stocks&order=asc&page_marker={}&sort=ticker", active,
                    limit, percent_encode(rows[n - 1]->ts_code));
    out += fmt::format(",\"next_url\":\"{}://{}/v3/reference/tickers?cursor={}\"", config_.scheme,
                       host_of(req), base64url_encode(cursor));
  }
  out += '}';
  reply.audit.outcome = "ok";
  reply.audit.rows = n;
  reply.audit.capped = n < rows.size();
  finish_fault(verdict, reply);
  return reply;
}

}  // namespace emu
