#include "world.hpp"

#include <algorithm>

namespace emu {

namespace {

std::array<Cell, kDailyColumns.size()> daily_cells(const Stock& s, const Bar& b) {
  return {Cell::str(s.ts_code),     Cell::date(b.trade_date), Cell::cents(b.open),
          Cell::cents(b.high),      Cell::cents(b.low),       Cell::cents(b.close),
          Cell::cents(b.pre_close), Cell::cents(b.change),    Cell::cents(b.pct_chg),
          Cell::cents(b.vol),       Cell::cents(b.amount)};
}

std::string_view exchange_literal(std::string_view exchange) {
  if (exchange == "SSE") return "SSE";
  if (exchange == "SZSE") return "SZSE";
  return {};
}

}  // namespace

World::World(std::uint64_t seed, int symbols, int last_date, Release release,
             Calendar::Rules calendar)
    : calendar_(calendar),
      universe_(seed, symbols, calendar_),
      daily_(calendar_, last_date, release) {}

Table World::stock_basic(const StockFilter& filter) const {
  Table t;
  t.columns.assign(kStockBasicColumns.begin(), kStockBasicColumns.end());
  for (const Stock* s : select_stocks(universe_, filter)) {
    const std::array<Cell, kStockBasicColumns.size()> row = {
        Cell::str(s->ts_code),    Cell::str(s->symbol),
        Cell::str(s->name),       Cell::str(s->area),
        Cell::str(s->industry),   Cell::str(s->market),
        Cell::str(s->exchange),   Cell::str(s->list_status),
        Cell::date(s->list_date), s->delist_date ? Cell::date(s->delist_date) : Cell::null_value()};
    t.add_row(row);
  }
  return t;
}

Table World::trade_cal(std::string_view exchange, int start, int end, int is_open,
                       bool descending) const {
  Table t;
  t.columns.assign(kTradeCalColumns.begin(), kTradeCalColumns.end());
  const std::string_view ex = exchange_literal(exchange);
  if (ex.empty() || start > end) return t;
  const auto& days = calendar_.days();
  const std::size_t lo = calendar_.day_lower_bound(start);
  const std::size_t hi = calendar_.day_lower_bound(end + 1);
  if (lo >= hi) return t;
  t.cells.reserve((hi - lo) * kTradeCalColumns.size());
  for (std::size_t k = 0; k < hi - lo; ++k) {
    const Calendar::Day& d = days[descending ? hi - 1 - k : lo + k];
    if (is_open >= 0 && static_cast<int>(d.open) != is_open) continue;
    const std::array<Cell, kTradeCalColumns.size()> row = {Cell::str(ex), Cell::date(d.ymd),
                                                           Cell::integer(d.open ? 1 : 0),
                                                           Cell::date(d.pretrade_ymd)};
    t.add_row(row);
  }
  return t;
}

World::DailyResult World::daily_api(const std::vector<const Stock*>& stocks, int start, int end,
                                    std::size_t cap) const {
  DailyResult r;
  r.table.columns.assign(kDailyColumns.begin(), kDailyColumns.end());
  end = std::min(end, daily_.published_through());
  if (stocks.empty() || start > end) return r;
  // Only open days where at least one selected stock may have a row.
  std::size_t lo = calendar_.open_count(), hi = 0;
  for (const Stock* s : stocks) {
    const std::size_t b = daily_.range_begin(*s, start), e = daily_.range_end(*s, end);
    if (b < e) {
      lo = std::min(lo, b);
      hi = std::max(hi, e);
    }
  }
  // Per stock: the open index of its next (earlier) row and that row's close, known from the
  // pre_close of the row just emitted.
  struct Next {
    std::size_t index = static_cast<std::size_t>(-1);
    std::int64_t close = 0;
  };
  std::vector<Next> next(stocks.size());
  r.table.cells.reserve(std::min<std::size_t>(cap, 1 << 16) * kDailyColumns.size());
  for (std::size_t i = hi; i > lo;) {
    --i;
    for (std::size_t k = 0; k < stocks.size(); ++k) {
      const Stock& s = *stocks[k];
      if (!daily_.has_row(s, i)) continue;
      if (r.table.rows == cap) {
        r.capped = true;
        return r;
      }
      std::size_t previous = i;
      const Bar b = daily_.bar(s, i, next[k].index == i ? &next[k].close : nullptr, &previous);
      next[k] = {previous == i ? static_cast<std::size_t>(-1) : previous, b.pre_close};
      r.table.add_row(daily_cells(s, b));
    }
  }
  return r;
}

void World::daily_truth(const std::vector<const Stock*>& stocks, int start, int end,
                        const std::function<void(std::span<const Cell>)>& row) const {
  end = std::min(end, daily_.published_through());
  for (const Stock* s : stocks) {
    const std::size_t e = daily_.range_end(*s, end);
    for (std::size_t i = daily_.range_begin(*s, start); i < e; ++i) {
      if (daily_.has_row(*s, i)) row(daily_cells(*s, daily_.bar(*s, i)));
    }
  }
}

}  // namespace emu
