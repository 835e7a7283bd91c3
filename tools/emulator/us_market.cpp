#include "us_market.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <unordered_set>

#include "dates.hpp"
#include "hash.hpp"

namespace emu {

namespace {

constexpr std::array<const char*, 24> kNameHeads = {
    "Atlas",  "Beacon",  "Cedar",    "Delta",   "Eagle", "Falcon", "Granite", "Harbor",
    "Iron",   "Juniper", "Keystone", "Liberty", "Maple", "Nova",   "Orion",   "Pioneer",
    "Quarry", "Redwood", "Summit",   "Titan",   "Union", "Vertex", "Willow",  "Zenith"};
constexpr std::array<const char*, 12> kNameMiddles = {
    "Bio",   "Energy", "Financial", "Foods",  "Industries", "Media",
    "Micro", "Motors", "Networks",  "Pharma", "Realty",     "Systems"};
constexpr std::array<const char*, 5> kNameTails = {"Inc.", "Corp.", "Holdings Inc.", "Group Inc.",
                                                   "Co."};

enum Salt : std::uint64_t {
  kSaltLength = 201,
  kSaltLetters,
  kSaltExchange,
  kSaltStatus,
  kSaltList,
  kSaltDelist,
  kSaltName1,
  kSaltName2,
  kSaltName3,
  kSaltBase,
  kSaltPeriod1,
  kSaltPhase1,
  kSaltPeriod2,
  kSaltPhase2,
  kSaltTrades,
};

int pick_day(std::uint64_t h, int lo, int hi) {
  return lo + static_cast<int>(h % static_cast<std::uint64_t>(hi - lo + 1));
}

int open_on_or_after(const Calendar& cal, int d) {
  const std::size_t i = cal.open_lower_bound(ymd_from_days(d));
  return cal.open_ymd(std::min(i, cal.open_count() - 1));
}

std::uint64_t text_hash(std::string_view text) {
  std::uint64_t h = 0x84222325cbf29ce4ULL;
  for (char c : text) h = mix64(h ^ static_cast<unsigned char>(c));
  return h;
}

// Second Sunday of March etc.: the n-th Sunday (1-based) of a month, or the last one (n = -1).
int nth_sunday(int y, int m, int n) {
  if (n < 0) {
    int d = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
    do --d;
    while (weekday_from_days(d) != 0);
    return d;
  }
  int d = days_from_civil(y, m, 1);
  while (weekday_from_days(d) != 0) ++d;
  return d + 7 * (n - 1);
}

// True if 00:00 local time on `days` is daylight-saving time in New York. The switches happen
// at 02:00, so midnight of a switch day still has the old offset.
bool ny_dst_at_midnight(int days) {
  const int y = civil_from_days(days).y;
  const int start = y >= 2007 ? nth_sunday(y, 3, 2) : nth_sunday(y, 4, 1);
  const int end = y >= 2007 ? nth_sunday(y, 11, 1) : nth_sunday(y, 10, -1);
  return days > start && days <= end;
}

}  // namespace

std::int64_t ny_midnight_ms(int days) {
  const std::int64_t offset_hours = ny_dst_at_midnight(days) ? 4 : 5;
  return (static_cast<std::int64_t>(days) * 24 + offset_hours) * 3600000;
}

int ny_day_of_ms(std::int64_t ms) {
  // The UTC day, then one back if the instant is before that day's New York midnight.
  const auto day_ms = std::int64_t{86400000};
  int d = static_cast<int>(ms >= 0 ? ms / day_ms : (ms - day_ms + 1) / day_ms);
  if (ms < ny_midnight_ms(d)) --d;
  return d;
}

UsMarket::UsMarket(std::uint64_t seed, int symbols, int last_date)
    : calendar_(Calendar::Rules::nyse), last_date_(last_date), model_(calendar_, last_date) {
  if (symbols < 1 || symbols > Universe::kMaxSymbols) {
    throw std::invalid_argument("symbols out of range");
  }
  std::unordered_set<std::string> taken;
  tickers_.reserve(static_cast<std::size_t>(symbols));
  for (int i = 0; i < symbols; ++i) {
    const auto idx = static_cast<std::uint64_t>(i);
    auto h = [&](std::uint64_t salt) { return hash_of({seed, idx, salt, 0x05}); };

    // 1 to 4 letters, mostly 3 or 4; a clash draws again from the next hash.
    std::string ticker;
    for (std::uint64_t attempt = 0; ticker.empty() || taken.count(ticker) != 0; ++attempt) {
      const std::uint64_t u = hash_of({seed, idx, kSaltLength, attempt}) % 100;
      const int len = u < 3 ? 1 : u < 18 ? 2 : u < 60 ? 3 : 4;
      std::uint64_t letters = hash_of({seed, idx, kSaltLetters, attempt});
      ticker.clear();
      for (int k = 0; k < len; ++k, letters /= 26) {
        ticker.push_back(static_cast<char>('A' + letters % 26));
      }
    }
    taken.insert(ticker);

    Stock s;
    s.ts_code = ticker;
    s.symbol = ticker;
    s.exchange = h(kSaltExchange) % 5 < 2 ? "NYSE" : "NASDAQ";
    s.name = std::string(kNameHeads[h(kSaltName1) % kNameHeads.size()]) + " " +
             kNameMiddles[h(kSaltName2) % kNameMiddles.size()] + " " +
             kNameTails[h(kSaltName3) % kNameTails.size()];
    s.market = "stocks";
    s.list_status = unit_of(h(kSaltStatus)) < 0.10 ? "D" : "L";
    s.list_date = open_on_or_after(calendar_, pick_day(h(kSaltList), days_from_civil(1995, 1, 3),
                                                       days_from_civil(2019, 12, 20)));
    if (s.list_status == "D") {
      const int lo = std::max(days_from_ymd(s.list_date) + 365, days_from_civil(2010, 1, 1));
      s.delist_date =
          open_on_or_after(calendar_, pick_day(h(kSaltDelist), lo, days_from_civil(2024, 12, 31)));
    }

    // Keyed by the ticker text: a ticker's bars do not depend on --symbols.
    s.key = hash_of({seed, text_hash(ticker), 3});
    const double lo_price = std::log(5.0), hi_price = std::log(500.0);
    s.base = std::exp(lo_price + unit_of(h(kSaltBase)) * (hi_price - lo_price));
    s.period1 = 300.0 + 1200.0 * unit_of(h(kSaltPeriod1));
    s.phase1 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase1));
    s.period2 = 20.0 + 70.0 * unit_of(h(kSaltPeriod2));
    s.phase2 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase2));
    s.first_open = calendar_.open_lower_bound(s.list_date);
    s.end_open =
        s.delist_date != 0 ? calendar_.open_lower_bound(s.delist_date) : calendar_.open_count();
    tickers_.push_back(std::move(s));
  }
  std::sort(tickers_.begin(), tickers_.end(),
            [](const Stock& a, const Stock& b) { return a.ts_code < b.ts_code; });
  for (std::size_t i = 0; i < tickers_.size(); ++i) by_ticker_.emplace(tickers_[i].ts_code, i);
}

const Stock* UsMarket::find(std::string_view ticker) const {
  const auto it = by_ticker_.find(std::string(ticker));
  return it == by_ticker_.end() ? nullptr : &tickers_[it->second];
}

std::vector<UsBar> UsMarket::bars(const Stock& s, int start, int end) const {
  std::vector<UsBar> out;
  const std::size_t e = model_.range_end(s, end);
  for (std::size_t i = model_.range_begin(s, start); i < e; ++i) {
    if (!model_.has_row(s, i)) continue;
    // Bar::vol is in hundredths of a 100-share lot, which is exactly a number of shares.
    const Bar b = model_.bar(s, i);
    out.push_back(UsBar{b.trade_date, b.open, b.high, b.low, b.close, b.vol});
  }
  return out;
}

std::int64_t UsMarket::vwap(const UsBar& b) {
  return div_round(b.open + b.high + b.low + b.close, 4);
}

std::int64_t UsMarket::trades(const Stock& s, const UsBar& b) {
  const std::uint64_t h = hash_of({s.key, static_cast<std::uint64_t>(b.date), kSaltTrades});
  return b.volume / (80 + static_cast<std::int64_t>(h % 120)) + 1;
}

}  // namespace emu
