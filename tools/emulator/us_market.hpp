// The US equity market behind the alphavantage and polygon personalities: a NYSE-like calendar,
// a universe of US-style tickers, and daily bars from the same model as the Chinese market.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "calendar.hpp"
#include "daily_model.hpp"
#include "universe.hpp"

namespace emu {

// One daily bar as US vendors report it: prices in cents, volume in shares.
struct UsBar {
  int date;  // YYYYMMDD
  std::int64_t open, high, low, close, volume;
};

class UsMarket {
 public:
  // `symbols` tickers (1..Universe::kMaxSymbols); the first K are the same for any symbols >= K
  // with the same seed. No bars after last_date.
  UsMarket(std::uint64_t seed, int symbols, int last_date);
  UsMarket(const UsMarket&) = delete;
  UsMarket& operator=(const UsMarket&) = delete;

  const Calendar& calendar() const { return calendar_; }
  int last_date() const { return last_date_; }
  // Sorted by ticker. Stock::ts_code and Stock::symbol hold the ticker, exchange is "NYSE" or
  // "NASDAQ", list_status "L" (active) or "D" (delisted, delist_date set).
  const std::vector<Stock>& tickers() const { return tickers_; }
  const Stock* find(std::string_view ticker) const;

  // The ticker's bars with start <= date <= end, ascending.
  std::vector<UsBar> bars(const Stock& s, int start, int end) const;

  // Volume-weighted average price (cents) and number of trades Polygon reports for a bar.
  static std::int64_t vwap(const UsBar& b);
  static std::int64_t trades(const Stock& s, const UsBar& b);

 private:
  Calendar calendar_;
  int last_date_;
  std::vector<Stock> tickers_;
  std::unordered_map<std::string, std::size_t> by_ticker_;
  DailyModel model_;
};

// Unix milliseconds of 00:00 America/New_York on the day `days` (days since 1970-01-01), with
// the US daylight-saving rules in force that year (1987-2006: first Sunday of April to last
// Sunday of October; since 2007: second Sunday of March to first Sunday of November). Polygon
// stamps daily bars this way.
std::int64_t ny_midnight_ms(int days);
// The day (days since 1970-01-01, New York) a Unix-milliseconds instant falls on.
int ny_day_of_ms(std::int64_t ms);

}  // namespace emu
