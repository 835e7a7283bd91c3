#include "universe.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "dates.hpp"
#include "hash.hpp"

namespace emu {

namespace {

struct Board {
  int base;  // first code
  bool sse;
  const char* market;
};

// Each board holds codes base..base+998.
constexpr std::array<Board, 10> kBoards = {{
    {600000, true, "主板"},
    {601000, true, "主板"},
    {603000, true, "主板"},
    {605000, true, "主板"},
    {688000, true, "科创板"},
    {1, false, "主板"},
    {2000, false, "中小板"},
    {3000, false, "主板"},
    {300000, false, "创业板"},
    {301000, false, "创业板"},
}};

constexpr std::array<const char*, 30> kNameHeads = {
    "华", "中", "国", "东", "方", "金", "宏", "长", "新", "海", "天", "盛", "泰", "恒", "安",
    "光", "明", "通", "达", "兴", "信", "科", "瑞", "联", "博", "正", "康", "永", "鑫", "远"};

constexpr std::array<const char*, 18> kNameTails = {"科技", "股份", "银行", "医药", "电子", "能源",
                                                    "实业", "控股", "电气", "材料", "传媒", "证券",
                                                    "地产", "化工", "汽车", "食品", "环保", "软件"};

constexpr std::array<const char*, 12> kAreas = {"北京", "上海", "深圳", "广东", "浙江", "江苏",
                                                "山东", "四川", "湖北", "福建", "安徽", "湖南"};

constexpr std::array<const char*, 14> kIndustries = {
    "银行", "软件服务", "元器件", "化学制药", "汽车配件", "电气设备", "半导体",
    "白酒", "房产服务", "证券",   "食品",     "环境保护", "通信设备", "煤炭开采"};

enum Salt : std::uint64_t {
  kSaltBoard = 1,
  kSaltStep,
  kSaltStatus,
  kSaltList,
  kSaltDelist,
  kSaltSuspend,
  kSaltName1,
  kSaltName2,
  kSaltName3,
  kSaltArea,
  kSaltIndustry,
  kSaltBase,
  kSaltPeriod1,
  kSaltPhase1,
  kSaltPeriod2,
  kSaltPhase2,
};

std::string six_digits(int code) {
  std::string s(6, '0');
  for (int i = 5; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = static_cast<char>('0' + code % 10);
    code /= 10;
  }
  return s;
}

// An open day on or after the day number `d` (the last open day if none).
int open_on_or_after(const Calendar& cal, int d) {
  const std::size_t i = cal.open_lower_bound(ymd_from_days(d));
  return cal.open_ymd(std::min(i, cal.open_count() - 1));
}

int pick_day(std::uint64_t h, int lo, int hi) {
  if (hi < lo) hi = lo;
  return lo + static_cast<int>(h % static_cast<std::uint64_t>(hi - lo + 1));
}

}  // namespace

Universe::Universe(std::uint64_t seed, int symbols, const Calendar& cal) {
  if (symbols < 1 || symbols > kMaxSymbols) throw std::invalid_argument("symbols out of range");
  std::array<int, kBoards.size()> next{};
  for (std::size_t b = 0; b < kBoards.size(); ++b) next[b] = kBoards[b].base;

  stocks_.reserve(static_cast<std::size_t>(symbols));
  for (int i = 0; i < symbols; ++i) {
    const auto idx = static_cast<std::uint64_t>(i);
    auto h = [&](std::uint64_t salt) { return hash_of({seed, idx, salt}); };

    // Half Shanghai, half Shenzhen; board within the exchange by hash; a full board spills over.
    const std::uint64_t hb = h(kSaltBoard);
    std::size_t board = (hb & 1) ? (hb >> 8) % 5 : 5 + (hb >> 8) % 5;
    for (std::size_t tries = 0; next[board] > kBoards[board].base + 998; ++tries) {
      if (tries >= kBoards.size()) throw std::invalid_argument("symbols out of range");
      board = (board + 1) % kBoards.size();
    }
    const int code = next[board];
    next[board] += 1 + static_cast<int>(h(kSaltStep) % 2);

    Stock s;
    s.symbol = six_digits(code);
    s.exchange = kBoards[board].sse ? "SSE" : "SZSE";
    s.ts_code = s.symbol + (kBoards[board].sse ? ".SH" : ".SZ");
    s.market = kBoards[board].market;
    s.area = kAreas[h(kSaltArea) % kAreas.size()];
    s.industry = kIndustries[h(kSaltIndustry) % kIndustries.size()];

    const double status_u = unit_of(h(kSaltStatus));
    s.list_status = status_u < 0.12 ? "D" : status_u < 0.18 ? "P" : "L";
    s.name = std::string(s.list_status == "P" ? "*ST" : "") +
             kNameHeads[h(kSaltName1) % kNameHeads.size()] +
             kNameHeads[h(kSaltName2) % kNameHeads.size()] +
             kNameTails[h(kSaltName3) % kNameTails.size()];

    const int list_days =
        pick_day(h(kSaltList), days_from_civil(1995, 1, 1), days_from_civil(2019, 12, 20));
    s.list_date = open_on_or_after(cal, list_days);
    const int listed = days_from_ymd(s.list_date);
    if (s.list_status == "D") {
      const int lo = std::max(listed + 365, days_from_civil(2010, 1, 1));
      s.delist_date =
          open_on_or_after(cal, pick_day(h(kSaltDelist), lo, days_from_civil(2024, 12, 31)));
    } else if (s.list_status == "P") {
      const int lo = std::max(listed + 365, days_from_civil(2015, 1, 1));
      s.suspend_from =
          open_on_or_after(cal, pick_day(h(kSaltSuspend), lo, days_from_civil(2025, 6, 30)));
    }

    // The daily model is keyed by the code, not the index: a stock's bars do not depend on
    // --symbols.
    s.key = hash_of({seed, static_cast<std::uint64_t>(code), kBoards[board].sse ? 1u : 2u});
    const double lo_price = std::log(3.0), hi_price = std::log(80.0);
    s.base = std::exp(lo_price + unit_of(h(kSaltBase)) * (hi_price - lo_price));
    s.period1 = 300.0 + 1200.0 * unit_of(h(kSaltPeriod1));
    s.phase1 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase1));
    s.period2 = 20.0 + 70.0 * unit_of(h(kSaltPeriod2));
    s.phase2 = 2.0 * std::numbers::pi * unit_of(h(kSaltPhase2));

    s.first_open = cal.open_lower_bound(s.list_date);
    if (s.delist_date != 0) {
      s.end_open = cal.open_lower_bound(s.delist_date);
    } else if (s.suspend_from != 0) {
      s.end_open = cal.open_lower_bound(s.suspend_from);
    } else {
      s.end_open = cal.open_count();
    }
    stocks_.push_back(std::move(s));
  }
  std::sort(stocks_.begin(), stocks_.end(),
            [](const Stock& a, const Stock& b) { return a.ts_code < b.ts_code; });
  for (std::size_t i = 0; i < stocks_.size(); ++i) by_code_.emplace(stocks_[i].ts_code, i);
}

const Stock* Universe::find(std::string_view ts_code) const {
  const auto it = by_code_.find(std::string(ts_code));
  return it == by_code_.end() ? nullptr : &stocks_[it->second];
}

std::vector<const Stock*> select_stocks(const Universe& universe, const StockFilter& filter) {
  auto keep = [&](const Stock& s) {
    if (!filter.statuses.empty() && filter.statuses.find(s.list_status) == std::string::npos) {
      return false;
    }
    return filter.exchange.empty() || filter.exchange == s.exchange;
  };
  std::vector<const Stock*> out;
  if (filter.codes.empty()) {
    for (const Stock& s : universe.stocks()) {
      if (keep(s)) out.push_back(&s);
    }
    return out;
  }
  for (const std::string& code : filter.codes) {
    const Stock* s = universe.find(code);
    if (s != nullptr && keep(*s)) out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [](const Stock* a, const Stock* b) { return a->ts_code < b->ts_code; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace emu
