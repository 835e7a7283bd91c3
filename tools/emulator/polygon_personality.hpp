// The Polygon.io personality: GET
// /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to} and /v3/reference/tickers, key
// in ?apiKey= or "Authorization: Bearer", pages via next_url.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "chaos.hpp"
#include "personality.hpp"
#include "rate_limiter.hpp"
#include "us_market.hpp"

namespace emu {

struct PolygonConfig {
  std::string apikey = "emulator-token";
  std::uint64_t per_minute = 0;  // the free tier allows 5
  std::uint64_t per_day = 0;
  double minute_seconds = 60;
  double day_seconds = 86400;
  int plan_history_days = 0;    // 0 = unlimited; else no bars before last_date - N days (403)
  int plan_tickers = 0;         // 0 = all; else only the first N tickers in ticker order (403)
  std::string scheme = "http";  // for next_url
};

class PolygonPersonality final : public Personality {
 public:
  PolygonPersonality(std::shared_ptr<const UsMarket> market, PolygonConfig config,
                     std::shared_ptr<Chaos> chaos);

  std::string_view name() const override { return "polygon"; }
  HttpReply handle(const HttpRequest& request) override;
  void describe(const HttpRequest& request, AuditRecord& audit) const override;

 private:
  HttpReply aggs(const HttpRequest& req, HttpReply reply);
  HttpReply tickers(const HttpRequest& req, HttpReply reply);
  // Limits then chaos, as one step; false if the reply is final (429 or a replacing fault).
  bool admit(const HttpRequest& req, HttpReply& reply, ChaosVerdict& verdict);

  std::shared_ptr<const UsMarket> market_;
  PolygonConfig config_;
  std::shared_ptr<Chaos> chaos_;
  std::mutex gate_;
  RateLimiter limiter_;
};

}  // namespace emu
