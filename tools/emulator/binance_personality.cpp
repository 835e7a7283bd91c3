#include "binance_personality.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "hash.hpp"
#include "query_string.hpp"
#include "rest_common.hpp"
#include "table.hpp"

namespace emu {

namespace {

constexpr long long kDepthDefaultLimit = 100, kDepthMaxLimit = 5000;

std::string error_body(int code, std::string_view msg) {
  std::string out = fmt::format("{{\"code\":{},\"msg\":", code);
  append_json_string(out, msg);
  out += '}';
  return out;
}

std::string mandatory(std::string_view name) {
  return fmt::format("Mandatory parameter '{}' was not sent, was empty/null, or malformed.", name);
}

// Binance writes prices and quantities with eight decimals; ours are 2-decimal values.
void append_amount(std::string& out, std::int64_t hundredths) {
  out += '"';
  append_scaled(out, hundredths, 8);
  out += '"';
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int BinancePersonality::depth_weight(long long limit) {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

BinancePersonality::BinancePersonality(std::shared_ptr<const CryptoMarket> market,
                                       BinanceConfig config, std::shared_ptr<Chaos> chaos)
    : market_(std::move(market)),
      config_(config),
      chaos_(std::move(chaos)),
      limiter_(config_.weight_limit, config_.minute_seconds) {}

void BinancePersonality::describe(const HttpRequest& req, AuditRecord& audit) const {
  std::string path;
  QueryParams params;
  split_target(req.target, path, params);
  audit.api_name = path;
  audit.params = audit_params(params, {"apiKey", "signature"});
  audit.token = req.header("x-mbx-apikey").empty() ? "missing" : "***";
}

HttpReply BinancePersonality::handle(const HttpRequest& req) {
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
  // Every answer carries the weight used in the current window.
  auto weight_headers = [&](std::uint64_t used) {
    reply.headers.emplace_back("x-mbx-used-weight", std::to_string(used));
    reply.headers.emplace_back("x-mbx-used-weight-1m", std::to_string(used));
  };
  auto fail = [&](int status, int code, std::string_view msg, const char* outcome) {
    std::uint64_t used = 0;
    {
      std::lock_guard lock(gate_);
      used = limiter_.used(req.arrival);
    }
    weight_headers(used);
    reply.http_status = status;
    reply.body = error_body(code, msg);
    audit.outcome = outcome;
    return reply;
  };

  if (req.method != "GET") return fail(405, -1000, "Method not allowed.", "bad_request");

  // Route and weight first: the weight of depth depends on its limit.
  enum class Endpoint { klines, depth, exchange_info, ping, time } endpoint;
  int weight = 1;
  if (path == "/api/v3/klines") {
    endpoint = Endpoint::klines;
    weight = 2;
  } else if (path == "/api/v3/depth") {
    endpoint = Endpoint::depth;
  } else if (path == "/api/v3/exchangeInfo") {
    endpoint = Endpoint::exchange_info;
    weight = 20;
  } else if (path == "/api/v3/ping") {
    endpoint = Endpoint::ping;
  } else if (path == "/api/v3/time") {
    endpoint = Endpoint::time;
  } else {
    return fail(404, -1000, "Not found.", "bad_request");
  }

  const CryptoSymbol* symbol = nullptr;
  long long limit = 0, start = -1, end = -1;
  std::int64_t interval = 0;
  if (endpoint == Endpoint::klines || endpoint == Endpoint::depth) {
    if (get("symbol").empty()) return fail(400, -1102, mandatory("symbol"), "bad_request");
    symbol = market_->find(get("symbol"));
    if (symbol == nullptr) return fail(400, -1121, "Invalid symbol.", "bad_request");
    limit = endpoint == Endpoint::klines ? kKlinesDefaultLimit : kDepthDefaultLimit;
    if (!get("limit").empty() && (!parse_int64(get("limit"), limit) || limit < 1)) {
      return fail(400, -1100,
                  "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
                  "bad_request");
    }
    limit = std::min(limit, endpoint == Endpoint::klines ? kKlinesMaxLimit : kDepthMaxLimit);
    if (endpoint == Endpoint::depth) weight = depth_weight(limit);
  }
  if (endpoint == Endpoint::klines) {
    if (get("interval").empty()) return fail(400, -1102, mandatory("interval"), "bad_request");
    interval = CryptoMarket::interval_ms(get("interval"));
    if (interval == 0) return fail(400, -1120, "Invalid interval.", "bad_request");
    for (auto [name, out] : {std::pair{"startTime", &start}, std::pair{"endTime", &end}}) {
      if (!get(name).empty() && (!parse_int64(get(name), *out) || *out < 0)) {
        return fail(400, -1100,
                    fmt::format("Illegal characters found in parameter '{}'; legal range is "
                                "'^[0-9]{{1,20}}$'.",
                                name),
                    "bad_request");
      }
    }
    if (start >= 0 && end >= 0 && start > end) {
      return fail(400, -1023, "Start time is greater than end time.", "bad_request");
    }
  }
  if (endpoint == Endpoint::exchange_info && !get("symbol").empty()) {
    symbol = market_->find(get("symbol"));
    if (symbol == nullptr) return fail(400, -1121, "Invalid symbol.", "bad_request");
  }
  audit.weight = weight;

  // Weight check, chaos, charge: one step.
  ChaosVerdict verdict;
  std::uint64_t used = 0;
  {
    std::lock_guard lock(gate_);
    const WeightLimiter::Decision d =
        limiter_.admit(req.arrival, static_cast<std::uint64_t>(weight));
    if (d.verdict != WeightLimiter::Verdict::ok) {
      used = limiter_.used(req.arrival);
      weight_headers(used);
      reply.headers.emplace_back("Retry-After",
                                 std::to_string(static_cast<long long>(std::ceil(d.retry_after))));
      if (d.verdict == WeightLimiter::Verdict::limited) {
        reply.http_status = 429;
        reply.body = error_body(
            -1003, fmt::format("Too much request weight used; current limit is {} request weight "
                               "per 1 MINUTE. Please use WebSocket Streams for live updates to "
                               "avoid polling the API.",
                               limiter_.limit()));
        audit.outcome = "rate_limited";
      } else {
        reply.http_status = 418;
        reply.body = error_body(
            -1003, fmt::format("Way too much request weight used; IP banned until {}. Please use "
                               "WebSocket Streams for live updates to avoid bans.",
                               static_cast<long long>(std::llround(d.banned_until * 1000.0))));
        audit.outcome = "banned";
      }
      return reply;
    }
    verdict = chaos_->decide();
    if (verdict.fault == Fault::none)
      limiter_.charge(req.arrival, static_cast<std::uint64_t>(weight));
    used = limiter_.used(req.arrival);
  }
  weight_headers(used);
  if (apply_replacing_fault(verdict, reply)) return reply;

  std::string& out = reply.body;
  audit.outcome = "ok";
  switch (endpoint) {
    case Endpoint::ping:
      out = "{}";
      break;
    case Endpoint::time:
      out = fmt::format("{{\"serverTime\":{}}}", now_ms());
      break;
    case Endpoint::exchange_info: {
      out = fmt::format(
          "{{\"timezone\":\"UTC\",\"serverTime\":{},\"rateLimits\":[{{\"rateLimitType\":"
          "\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,\"limit\":{}}}],"
          "\"exchangeFilters\":[],\"symbols\":[",
          now_ms(), limiter_.limit());
      bool first = true;
      for (const CryptoSymbol& s : market_->symbols()) {
        if (symbol != nullptr && symbol != &s) continue;
        if (!first) out += ',';
        first = false;
        out += fmt::format(
            "{{\"symbol\":\"{}\",\"status\":\"TRADING\",\"baseAsset\":\"{}\","
            "\"baseAssetPrecision\":8,\"quoteAsset\":\"{}\",\"quotePrecision\":8,"
            "\"quoteAssetPrecision\":8,\"orderTypes\":[\"LIMIT\",\"MARKET\"],"
            "\"isSpotTradingAllowed\":true,\"filters\":[{{\"filterType\":\"PRICE_FILTER\","
            "\"minPrice\":\"0.01000000\",\"maxPrice\":\"1000000.00000000\",\"tickSize\":"
            "\"0.01000000\"}}],\"permissionSets\":[[\"SPOT\"]]}}",
            s.symbol, s.base, s.quote);
        ++audit.rows;
      }
      out += "]}";
      break;
    }
    case Endpoint::depth: {
      // A deterministic book around the last daily close: one-tick levels, quantities from the
      // hash of (symbol, level).
      const std::int64_t day = 86400000;
      const std::int64_t mid = market_->kline(*symbol, day, market_->last_open(*symbol, day)).close;
      const std::int64_t tick = std::max<std::int64_t>(1, mid / 20000);
      const std::uint64_t update_id = hash_of({symbol->key, 7}) % 100000000000ULL;
      out = fmt::format("{{\"lastUpdateId\":{},\"bids\":[", update_id);
      auto level = [&](std::int64_t price, long long k, std::uint64_t side) {
        out += '[';
        append_amount(out, price);
        out += ',';
        append_amount(
            out, 1 + static_cast<std::int64_t>(
                         hash_of({symbol->key, static_cast<std::uint64_t>(k), side}) % 500000));
        out += ']';
      };
      long long bids = 0;
      for (long long k = 0; k < limit && mid - tick * (k + 1) >= 1; ++k, ++bids) {
        if (k) out += ',';
        level(mid - tick * (k + 1), k, 1);
      }
      out += "],\"asks\":[";
      for (long long k = 0; k < limit; ++k) {
        if (k) out += ',';
        level(mid + tick * k, k, 2);
      }
      out += "]}";
      audit.rows = static_cast<std::size_t>(bids + limit);
      break;
    }
    case Endpoint::klines: {
      // Open times in [startTime, endTime]; without startTime, the latest `limit` ones up to
      // endTime (or up to the newest kline).
      const std::int64_t first = market_->first_open(*symbol, interval);
      const std::int64_t last = market_->last_open(*symbol, interval);
      auto align_up = [&](std::int64_t t) { return (t + interval - 1) / interval * interval; };
      std::int64_t lo = first, hi = last;
      if (start >= 0) lo = std::max<std::int64_t>(lo, align_up(start));
      if (end >= 0) hi = std::min<std::int64_t>(hi, end / interval * interval);
      if (start < 0 && hi >= lo) lo = std::max<std::int64_t>(lo, hi - (limit - 1) * interval);
      out = "[";
      std::size_t n = 0;
      for (std::int64_t t = lo; t <= hi && n < static_cast<std::size_t>(limit);
           t += interval, ++n) {
        const Kline k = market_->kline(*symbol, interval, t);
        out += n == 0 ? "[" : ",[";
        out += std::to_string(k.open_time);
        for (std::int64_t v : {k.open, k.high, k.low, k.close, k.volume}) {
          out += ',';
          append_amount(out, v);
        }
        out += fmt::format(",{},", k.close_time);
        append_amount(out, k.quote_volume);
        out += fmt::format(",{},", k.trades);
        append_amount(out, k.taker_base);
        out += ',';
        append_amount(out, k.taker_quote);
        out += ",\"0\"]";
      }
      out += ']';
      audit.rows = n;
      audit.capped = hi >= lo && lo + static_cast<std::int64_t>(n) * interval <= hi;
      break;
    }
  }
  finish_fault(verdict, reply);
  return reply;
}

}  // namespace emu
