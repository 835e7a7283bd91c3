// The Alpha Vantage personality: GET /query?function=...&apikey=..., always HTTP 200, errors and
// limits as JSON messages ("Error Message", "Information" or the older "Note").
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

struct AlphaVantageConfig {
  std::string apikey = "emulator-token";
  std::uint64_t per_minute = 0;
  std::uint64_t per_day = 0;
  double minute_seconds = 60;
  double day_seconds = 86400;
  bool note_style =
      false;  // limits answered with {"Note": ...} (before 2023) instead of Information
};

class AlphaVantagePersonality final : public Personality {
 public:
  AlphaVantagePersonality(std::shared_ptr<const UsMarket> market, AlphaVantageConfig config,
                          std::shared_ptr<Chaos> chaos);

  std::string_view name() const override { return "alphavantage"; }
  HttpReply handle(const HttpRequest& request) override;
  void describe(const HttpRequest& request, AuditRecord& audit) const override;

 private:
  std::shared_ptr<const UsMarket> market_;
  AlphaVantageConfig config_;
  std::shared_ptr<Chaos> chaos_;
  std::mutex gate_;
  RateLimiter limiter_;
};

// TIME_SERIES_DAILY with outputsize=compact returns this many latest trading days.
inline constexpr std::size_t kAlphaVantageCompactRows = 100;

}  // namespace emu
