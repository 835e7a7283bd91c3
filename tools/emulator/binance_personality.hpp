// The Binance spot REST personality: /api/v3/klines, /api/v3/depth, /api/v3/exchangeInfo,
// /api/v3/ping and /api/v3/time, with request weights, X-MBX-USED-WEIGHT-1M on every answer,
// 429 + Retry-After over the weight limit, and 418 bans for clients that do not back off.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "chaos.hpp"
#include "crypto_market.hpp"
#include "personality.hpp"
#include "weight_limiter.hpp"

namespace emu {

struct BinanceConfig {
  std::uint64_t weight_limit = 6000;  // per "minute" window; 0 = unlimited
  double minute_seconds = 60;
};

class BinancePersonality final : public Personality {
 public:
  BinancePersonality(std::shared_ptr<const CryptoMarket> market, BinanceConfig config,
                     std::shared_ptr<Chaos> chaos);

  std::string_view name() const override { return "binance"; }
  HttpReply handle(const HttpRequest& request) override;
  void describe(const HttpRequest& request, AuditRecord& audit) const override;

  // Weight of GET /api/v3/depth for a given limit.
  static int depth_weight(long long limit);

 private:
  std::shared_ptr<const CryptoMarket> market_;
  BinanceConfig config_;
  std::shared_ptr<Chaos> chaos_;
  std::mutex gate_;
  WeightLimiter limiter_;
};

inline constexpr long long kKlinesDefaultLimit = 500, kKlinesMaxLimit = 1000;

}  // namespace emu
