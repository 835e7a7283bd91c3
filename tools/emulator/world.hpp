// Everything the data generator knows, built once: calendar, universe, daily model, and the
// queries both `serve` and `truth` answer from.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "calendar.hpp"
#include "daily_model.hpp"
#include "table.hpp"
#include "universe.hpp"

namespace emu {

inline constexpr std::array<std::string_view, 10> kStockBasicColumns = {
    "ts_code", "symbol",   "name",        "area",      "industry",
    "market",  "exchange", "list_status", "list_date", "delist_date"};
inline constexpr std::array<std::string_view, 4> kTradeCalColumns = {"exchange", "cal_date",
                                                                     "is_open", "pretrade_date"};
inline constexpr std::array<std::string_view, 11> kDailyColumns = {
    "ts_code",   "trade_date", "open",    "high", "low",   "close",
    "pre_close", "change",     "pct_chg", "vol",  "amount"};

class World {
 public:
  World(std::uint64_t seed, int symbols, int last_date, Release release = {},
        Calendar::Rules calendar = Calendar::Rules::china);
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  const Calendar& calendar() const { return calendar_; }
  const Universe& universe() const { return universe_; }
  const DailyModel& daily() const { return daily_; }

  Table stock_basic(const StockFilter& filter) const;

  // exchange must be "SSE" or "SZSE" (anything else gives no rows); is_open -1 = any.
  Table trade_cal(std::string_view exchange, int start, int end, int is_open,
                  bool descending) const;

  struct DailyResult {
    Table table;
    bool capped = false;
  };
  // API order: trade_date descending, then ts_code ascending; at most `cap` rows.
  DailyResult daily_api(const std::vector<const Stock*>& stocks, int start, int end,
                        std::size_t cap) const;
  // Truth order: ts_code ascending, then trade_date ascending; no cap. Calls `row` per row.
  void daily_truth(const std::vector<const Stock*>& stocks, int start, int end,
                   const std::function<void(std::span<const Cell>)>& row) const;

 private:
  Calendar calendar_;
  Universe universe_;
  DailyModel daily_;
};

}  // namespace emu
