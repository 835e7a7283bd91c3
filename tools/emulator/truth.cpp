#include "truth.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "crypto_market.hpp"
#include "dates.hpp"
#include "us_market.hpp"
#include "world.hpp"

namespace emu {

namespace {

class Output {
 public:
  ~Output() { flush(); }
  std::string& buffer() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= (1u << 20)) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size()) {
      failed_ = true;
    }
    buf_.clear();
  }
  bool ok() {
    flush();
    return !failed_ && std::fflush(stdout) == 0;
  }

 private:
  std::string buf_;
  bool failed_ = false;
};

void write_table(Output& out, const Table& table) {
  append_csv_header(out.buffer(), table.columns);
  const std::size_t width = table.columns.size();
  for (std::size_t r = 0; r < table.rows; ++r) {
    append_csv_row(out.buffer(), std::span<const Cell>(table.cells.data() + r * width, width));
    out.maybe_flush();
  }
}

// Every ticker of the universe, or the listed ones in ticker order (unknown ones skipped).
std::vector<const Stock*> us_selection(const UsMarket& m, const std::vector<std::string>& wanted) {
  std::vector<const Stock*> out;
  for (const Stock& s : m.tickers()) {
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), s.ts_code) != wanted.end()) {
      out.push_back(&s);
    }
  }
  return out;
}

void alphavantage_truth(Output& out, const TruthOptions& o) {
  const UsMarket m(o.seed, o.symbols, o.last_date);
  std::string& b = out.buffer();
  if (o.api == "listing_status") {
    // Both states as of --last-date, in ticker order.
    b += "symbol,name,exchange,assetType,ipoDate,delistingDate,status\n";
    for (const Stock* s : us_selection(m, o.wanted)) {
      if (s->list_date > o.last_date) continue;
      const bool delisted = s->delist_date != 0 && s->delist_date <= o.last_date;
      b += fmt::format("{},{},{},Stock,", s->ts_code, s->name, s->exchange);
      append_ymd_dashed(b, s->list_date);
      b += ',';
      if (delisted) append_ymd_dashed(b, s->delist_date);
      b += delisted ? ",Delisted\n" : ",Active\n";
    }
    return;
  }
  // TIME_SERIES_DAILY outputsize=full of every active symbol.
  b += "symbol,timestamp,open,high,low,close,volume\n";
  for (const Stock* s : us_selection(m, o.wanted)) {
    if (s->list_status != "L") continue;
    for (const UsBar& bar : m.bars(*s, o.start, o.end)) {
      b += s->ts_code;
      b += ',';
      append_ymd_dashed(b, bar.date);
      for (std::int64_t v : {bar.open, bar.high, bar.low, bar.close}) {
        b += ',';
        append_cents(b, v);
      }
      b += fmt::format(",{}\n", bar.volume);
      out.maybe_flush();
    }
  }
}

void polygon_truth(Output& out, const TruthOptions& o) {
  const UsMarket m(o.seed, o.symbols, o.last_date);
  std::string& b = out.buffer();
  if (o.api == "tickers") {
    b += "ticker,name,market,locale,primary_exchange,type,active,currency_name,delisted_utc\n";
    for (const Stock* s : us_selection(m, o.wanted)) {
      b += fmt::format("{},{},stocks,us,{},CS,{},usd,", s->ts_code, s->name,
                       s->exchange == "NYSE" ? "XNYS" : "XNAS",
                       s->list_status == "L" ? "true" : "false");
      if (s->delist_date != 0) {
        append_ymd_dashed(b, s->delist_date);
        b += "T00:00:00Z";
      }
      b += '\n';
    }
    return;
  }
  // Aggregates (1/day) of every ticker, delisted ones included, within the plan.
  int start = o.start;
  if (o.plan_history_days > 0) {
    start = std::max(start, ymd_from_days(days_from_ymd(o.last_date) - o.plan_history_days));
  }
  b += "ticker,date,t,o,h,l,c,v,vw,n\n";
  for (const Stock* s : us_selection(m, o.wanted)) {
    if (o.plan_tickers > 0 && s - m.tickers().data() >= o.plan_tickers) continue;
    for (const UsBar& bar : m.bars(*s, start, o.end)) {
      b += s->ts_code;
      b += ',';
      append_ymd_dashed(b, bar.date);
      b += fmt::format(",{}", ny_midnight_ms(days_from_ymd(bar.date)));
      for (std::int64_t v : {bar.open, bar.high, bar.low, bar.close}) {
        b += ',';
        append_cents(b, v);
      }
      b += fmt::format(",{},", bar.volume);
      append_cents(b, UsMarket::vwap(bar));
      b += fmt::format(",{}\n", UsMarket::trades(*s, bar));
      out.maybe_flush();
    }
  }
}

void binance_truth(Output& out, const TruthOptions& o) {
  const CryptoMarket m(o.seed, o.symbols, o.last_date);
  const std::int64_t interval = CryptoMarket::interval_ms(o.interval);
  constexpr std::int64_t kDay = 86400000;
  std::string& b = out.buffer();
  b += "symbol,interval,open_time,open,high,low,close,volume,close_time,quote_volume,trades,"
       "taker_buy_base,taker_buy_quote\n";
  for (const CryptoSymbol& s : m.symbols()) {
    if (!o.wanted.empty() &&
        std::find(o.wanted.begin(), o.wanted.end(), s.symbol) == o.wanted.end()) {
      continue;
    }
    std::int64_t lo = m.first_open(s, interval), hi = m.last_open(s, interval);
    if (o.start != 0) lo = std::max(lo, static_cast<std::int64_t>(days_from_ymd(o.start)) * kDay);
    if (o.end != 99999999) {
      hi = std::min(hi, (static_cast<std::int64_t>(days_from_ymd(o.end)) + 1) * kDay - interval);
    }
    for (std::int64_t t = lo; t <= hi; t += interval) {
      const Kline k = m.kline(s, interval, t);
      b += fmt::format("{},{},{}", s.symbol, o.interval, k.open_time);
      for (std::int64_t v : {k.open, k.high, k.low, k.close, k.volume}) {
        b += ',';
        append_cents(b, v);
      }
      b += fmt::format(",{},", k.close_time);
      append_cents(b, k.quote_volume);
      b += fmt::format(",{},", k.trades);
      append_cents(b, k.taker_base);
      b += ',';
      append_cents(b, k.taker_quote);
      b += '\n';
      out.maybe_flush();
    }
  }
}

}  // namespace

int run_truth(const TruthOptions& o) {
  if (o.personality != "tushare") {
    Output out;
    if (o.personality == "alphavantage") {
      alphavantage_truth(out, o);
    } else if (o.personality == "polygon") {
      polygon_truth(out, o);
    } else {
      binance_truth(out, o);
    }
    if (!out.ok()) {
      std::fprintf(stderr, "finsync-emulator: error writing to stdout\n");
      return 1;
    }
    return 0;
  }
  const World world(o.seed, o.symbols, o.last_date, o.release, o.calendar);
  StockFilter filter;
  filter.codes = o.ts_codes;
  filter.statuses = o.list_status;
  filter.exchange = o.exchange;

  Output out;
  if (o.api == "stock_basic") {
    write_table(out, world.stock_basic(filter));
  } else if (o.api == "trade_cal") {
    write_table(
        out, world.trade_cal(o.exchange.empty() ? "SSE" : o.exchange, o.start, o.end, -1, false));
  } else {
    append_csv_header(out.buffer(), kDailyColumns);
    world.daily_truth(select_stocks(world.universe(), filter), o.start, o.end,
                      [&](std::span<const Cell> row) {
                        append_csv_row(out.buffer(), row);
                        out.maybe_flush();
                      });
  }
  if (!out.ok()) {
    std::fprintf(stderr, "finsync-emulator: error writing to stdout\n");
    return 1;
  }
  return 0;
}

}  // namespace emu
