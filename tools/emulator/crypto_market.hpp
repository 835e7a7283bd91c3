// The crypto market behind the binance personality: a fixed list of USDT pairs trading 24/7,
// with klines of any epoch-aligned interval as pure functions of (seed, symbol, open time).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emu {

struct CryptoSymbol {
  std::string symbol;  // e.g. BTCUSDT
  std::string base;    // BTC
  std::string quote;   // USDT
  std::uint64_t key = 0;
  double price = 0;       // price level in USDT
  double day_volume = 0;  // typical daily volume in base-asset units
  double period1 = 0, phase1 = 0, period2 = 0, phase2 = 0;  // in minutes
  std::int64_t listed_ms = 0;                               // 00:00 UTC of the listing day
};

// Prices in cents (hundredths of USDT), volumes in hundredths of a unit: exact 2-decimal values.
struct Kline {
  std::int64_t open_time, close_time;  // Unix ms; close_time = open_time + interval - 1
  std::int64_t open, high, low, close;
  std::int64_t volume, quote_volume, trades, taker_base, taker_quote;
};

class CryptoMarket {
 public:
  static constexpr int kMaxSymbols = 32;

  // The first min(symbols, kMaxSymbols) pairs of a fixed list; klines end with last_date (UTC).
  CryptoMarket(std::uint64_t seed, int symbols, int last_date);

  // Sorted by symbol.
  const std::vector<CryptoSymbol>& symbols() const { return symbols_; }
  const CryptoSymbol* find(std::string_view symbol) const;

  // Interval length in ms for "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h",
  // "12h", "1d"; 0 for anything else.
  static std::int64_t interval_ms(std::string_view interval);

  // Open times of the symbol's complete klines form [first_open, last_open] in steps of the
  // interval; first_open > last_open if there are none.
  std::int64_t first_open(const CryptoSymbol& s, std::int64_t interval) const;
  std::int64_t last_open(const CryptoSymbol& s, std::int64_t interval) const;

  Kline kline(const CryptoSymbol& s, std::int64_t interval, std::int64_t open_time) const;

 private:
  std::int64_t price_at(const CryptoSymbol& s, std::int64_t minute) const;

  std::vector<CryptoSymbol> symbols_;
  std::int64_t end_ms_;  // 00:00 UTC of the day after last_date
};

}  // namespace emu
