#include "crypto_market.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "daily_model.hpp"
#include "dates.hpp"
#include "hash.hpp"

namespace emu {

namespace {

struct Pair {
  const char* base;
  double price;  // 0: drawn from the seed
};

// The first entries are fixed so "BTCUSDT" exists whenever --symbols >= 1.
constexpr std::array<Pair, CryptoMarket::kMaxSymbols> kPairs = {{
    {"BTC", 30000}, {"ETH", 2000}, {"BNB", 300}, {"SOL", 60}, {"XRP", 0},  {"ADA", 0},  {"DOGE", 0},
    {"TRX", 0},     {"LTC", 90},   {"DOT", 0},   {"LINK", 0}, {"AVAX", 0}, {"ATOM", 0}, {"XLM", 0},
    {"ETC", 0},     {"FIL", 0},    {"NEAR", 0},  {"APT", 0},  {"ARB", 0},  {"OP", 0},   {"UNI", 0},
    {"AAVE", 0},    {"INJ", 0},    {"SUI", 0},   {"ALGO", 0}, {"VET", 0},  {"ICP", 0},  {"HBAR", 0},
    {"SAND", 0},    {"MANA", 0},   {"EGLD", 0},  {"XTZ", 0},
}};

enum Salt : std::uint64_t {
  kSaltPrice = 301,
  kSaltVolume,
  kSaltListed,
  kSaltPeriod1,
  kSaltPhase1,
  kSaltPeriod2,
  kSaltPhase2,
  kSaltNoise,
  kSaltHigh,
  kSaltLow,
  kSaltKlineVolume,
  kSaltTrades,
  kSaltTaker,
};

constexpr std::int64_t kDayMs = 86400000;
constexpr std::int64_t kMinPrice = 1;  // 0.01 USDT

}  // namespace

CryptoMarket::CryptoMarket(std::uint64_t seed, int symbols, int last_date)
    : end_ms_((static_cast<std::int64_t>(days_from_ymd(last_date)) + 1) * kDayMs) {
  const int n = std::clamp(symbols, 1, kMaxSymbols);
  for (int i = 0; i < n; ++i) {
    const Pair& p = kPairs[static_cast<std::size_t>(i)];
    CryptoSymbol s;
    s.base = p.base;
    s.quote = "USDT";
    s.symbol = s.base + s.quote;
    auto h = [&](std::uint64_t salt) {
      return hash_of({seed, static_cast<std::uint64_t>(i), salt, 0x0c});
    };
    s.key = hash_of({seed, static_cast<std::uint64_t>(i), 0x0c});
    s.price =
        p.price > 0 ? p.price : std::exp(std::log(1.0) + unit_of(h(kSaltPrice)) * std::log(500.0));
    // Daily turnover of 1e7..1e9 USDT, expressed in base-asset units.
    s.day_volume = std::exp(std::log(1e7) + unit_of(h(kSaltVolume)) * std::log(100.0)) / s.price;
    s.period1 = (300.0 + 1200.0 * unit_of(h(kSaltPeriod1))) * 1440.0;
    s.phase1 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase1));
    s.period2 = (2.0 + 18.0 * unit_of(h(kSaltPeriod2))) * 1440.0;
    s.phase2 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase2));
    // BTCUSDT opened on 2017-08-17; the others some day between then and 2021.
    const int first = days_from_civil(2017, 8, 17);
    const int listed =
        i == 0
            ? first
            : first + static_cast<int>(h(kSaltListed) % static_cast<std::uint64_t>(
                                                            days_from_civil(2021, 1, 1) - first));
    s.listed_ms = static_cast<std::int64_t>(listed) * kDayMs;
    symbols_.push_back(std::move(s));
  }
  std::sort(symbols_.begin(), symbols_.end(),
            [](const CryptoSymbol& a, const CryptoSymbol& b) { return a.symbol < b.symbol; });
}

const CryptoSymbol* CryptoMarket::find(std::string_view symbol) const {
  for (const CryptoSymbol& s : symbols_) {
    if (s.symbol == symbol) return &s;
  }
  return nullptr;
}

std::int64_t CryptoMarket::interval_ms(std::string_view interval) {
  static constexpr std::array<std::pair<std::string_view, std::int64_t>, 12> kIntervals = {{
      {"1m", 60000},
      {"3m", 180000},
      {"5m", 300000},
      {"15m", 900000},
      {"30m", 1800000},
      {"1h", 3600000},
      {"2h", 7200000},
      {"4h", 14400000},
      {"6h", 21600000},
      {"8h", 28800000},
      {"12h", 43200000},
      {"1d", 86400000},
  }};
  for (const auto& [name, ms] : kIntervals) {
    if (name == interval) return ms;
  }
  return 0;
}

std::int64_t CryptoMarket::first_open(const CryptoSymbol& s, std::int64_t /*interval*/) const {
  return s.listed_ms;  // a day boundary, so aligned for every interval
}

std::int64_t CryptoMarket::last_open(const CryptoSymbol& /*s*/, std::int64_t interval) const {
  return end_ms_ - interval;  // the last kline that closes by the end of --last-date
}

std::int64_t CryptoMarket::price_at(const CryptoSymbol& s, std::int64_t minute) const {
  const double t = static_cast<double>(minute);
  const double two_pi = 2.0 * std::numbers::pi;
  const double noise = unit_of(hash_of({s.key, static_cast<std::uint64_t>(minute), kSaltNoise}));
  const double f = 1.0 + 0.25 * std::sin(two_pi * t / s.period1 + s.phase1) +
                   0.08 * std::sin(two_pi * t / s.period2 + s.phase2) + 0.004 * (2.0 * noise - 1.0);
  return std::max(kMinPrice, static_cast<std::int64_t>(std::llround(s.price * f * 100.0)));
}

Kline CryptoMarket::kline(const CryptoSymbol& s, std::int64_t interval,
                          std::int64_t open_time) const {
  const auto h = [&](std::uint64_t salt) {
    return unit_of(hash_of({s.key, static_cast<std::uint64_t>(open_time),
                            static_cast<std::uint64_t>(interval), salt}));
  };
  Kline k{};
  k.open_time = open_time;
  k.close_time = open_time + interval - 1;
  // A kline closes where the next one opens, as on a continuous market.
  k.open = price_at(s, open_time / 60000);
  k.close = price_at(s, (open_time + interval) / 60000);
  const double minutes = static_cast<double>(interval) / 60000.0;
  const double range = std::min(0.05, 0.002 * std::sqrt(minutes));
  const std::int64_t top = std::max(k.open, k.close);
  const std::int64_t bottom = std::min(k.open, k.close);
  k.high = top +
           static_cast<std::int64_t>(std::llround(static_cast<double>(top) * range * h(kSaltHigh)));
  k.low = std::max(kMinPrice, bottom - static_cast<std::int64_t>(std::llround(
                                           static_cast<double>(bottom) * range * h(kSaltLow))));
  const double units = s.day_volume * minutes / 1440.0 * (0.5 + h(kSaltKlineVolume));
  k.volume = std::max<std::int64_t>(1, std::llround(units * 100.0));
  const std::int64_t average = div_round(k.open + k.high + k.low + k.close, 4);
  k.quote_volume = div_round(k.volume * average, 100);
  k.trades = k.volume / (50 + static_cast<std::int64_t>(450 * h(kSaltTrades))) + 1;
  k.taker_base = std::llround(static_cast<double>(k.volume) * (0.35 + 0.3 * h(kSaltTaker)));
  k.taker_quote = div_round(k.taker_base * average, 100);
  return k;
}

}  // namespace emu
