#include "plan/planner.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/dates.hpp"
#include "core/json_escape.hpp"
#include "plan/day_grid.hpp"

namespace finsync::plan {
namespace {

using Range = std::pair<int32_t, int32_t>;

// Parts of [a, b] not covered by `covered`.
std::vector<Range> subtract(int32_t a, int32_t b, std::vector<Range> covered) {
  std::sort(covered.begin(), covered.end());
  std::vector<Range> out;
  int32_t cur = a;
  for (const auto& [s, e] : covered) {
    if (e < cur) continue;
    if (s > b) break;
    if (s > cur) out.emplace_back(cur, std::min(b, s - 1));
    cur = std::max(cur, e + 1);
    if (cur > b) break;
  }
  if (cur <= b) out.emplace_back(cur, b);
  return out;
}

std::vector<Range> subtract_all(const std::vector<Range>& from, const std::vector<Range>& minus) {
  std::vector<Range> out;
  for (const auto& [a, b] : from) {
    auto part = subtract(a, b, minus);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// Sorted, with ranges that no open day separates joined.
std::vector<Range> merge_ranges(std::vector<Range> rs, const TradingCalendar& cal) {
  std::sort(rs.begin(), rs.end());
  std::vector<Range> out;
  for (const auto& r : rs) {
    if (!out.empty() && (r.first <= out.back().second + 1 ||
                         !cal.first_open_on_or_after(out.back().second + 1, r.first - 1))) {
      out.back().second = std::max(out.back().second, r.second);
      continue;
    }
    out.push_back(r);
  }
  return out;
}

int32_t add_period(int32_t day, const std::string& window) {
  const int n = std::stoi(window.substr(0, window.size() - 1));
  const char unit = window.back();
  if (unit == 'd') return day + n;
  int y;
  unsigned m, d;
  dates::civil_from_days(day, y, m, d);
  int months = unit == 'm' ? n : 12 * n;
  int total = y * 12 + int(m) - 1 + months;
  int ny = total / 12;
  unsigned nm = unsigned(total % 12) + 1;
  // Clamp to the month's length (Jan 31 + 1m = Feb 28/29).
  for (unsigned dd = d; dd >= 28; --dd)
    if (auto r = dates::parse(fmt::format("{:04d}{:02d}{:02d}", ny, nm, dd), "%Y%m%d")) return *r;
  return dates::days_from_civil(ny, nm, d);
}

// Leave one row of headroom: a full page means "truncated", so a request is sized below it.
int64_t row_budget(const PlanInput& in) {
  return in.max_rows > 1 ? in.max_rows - 1 : 0;
}

void cut(const PlanInput& in, const TradingCalendar& cal, const std::string& symbol, Range r,
         const TaskEmit& out) {
  auto first = cal.first_open_on_or_after(r.first, r.second);
  auto last = cal.last_open_on_or_before(r.second, r.first);
  if (!first || !last) return;  // no trading day: nothing to request
  int32_t a = *first;
  const int32_t b = *last;
  const std::string params = symbol_params_json(in.symbol_param, symbol);
  const int64_t per_window =
      row_budget(in) > 0
          ? std::max<int64_t>(1, row_budget(in) / std::max<int64_t>(1, in.rows_per_day))
          : 0;
  while (a <= b) {
    int32_t e = b;
    if (in.whole_range) {
      e = b;
    } else if (in.window != "auto") {
      e = std::min(b, add_period(a, in.window) - 1);
    } else if (per_window > 0) {
      e = cal.nth_open_from(a, b, per_window);
    }
    if (auto le = cal.last_open_on_or_before(e, a)) e = *le;
    state::Task t;
    t.id = task_id(in.plan, symbol, a, e);
    t.plan = in.plan;
    t.params_json = params;
    t.start_day = a;
    t.end_day = e;
    out(std::move(t));
    auto next = cal.first_open_on_or_after(e + 1, b);
    if (!next) break;
    a = *next;
  }
}

// What one symbol of the universe still needs: `free` is the part of the range no task covers
// for it (the key symbols are grouped by), `missing` the part of that on which it trades.
struct Need {
  const Symbol* symbol;
  Range life;
  std::vector<Range> free;
  std::vector<Range> missing;
};

// Windows each universe symbol is covered by, from the tasks already planned (any state).
class Coverage {
 public:
  Coverage(const std::vector<state::Task>& existing, const TradingCalendar& cal) {
    std::map<int32_t, std::vector<Range>> all_by_gen;
    for (const auto& t : existing) {
      const ParamSet ps = param_set(t);
      const Range w{t.start_day, t.end_day};
      if (ps.kind == ParamSet::Kind::all) {
        all_by_gen[ps.gen].push_back(w);
        all_.push_back(w);
      } else if (ps.kind == ParamSet::Kind::none) {
        by_symbol_[""].push_back(w);
      } else {
        for (const auto& s : ps.symbols) by_symbol_[s].push_back(w);
      }
    }
    all_ = merge_ranges(std::move(all_), cal);
    // A task over every symbol of generation g covers the symbols of generations <= g.
    std::vector<Range> acc;
    for (auto it = all_by_gen.rbegin(); it != all_by_gen.rend(); ++it) {
      acc.insert(acc.end(), it->second.begin(), it->second.end());
      acc = merge_ranges(std::move(acc), cal);
      from_gen_.emplace_back(it->first, acc);
    }
  }

  std::vector<Range> of(const Symbol& s) const {
    std::vector<Range> out;
    if (auto it = by_symbol_.find(s.code); it != by_symbol_.end()) out = it->second;
    // from_gen_ runs from the newest generation down: the first entry below s.gen is too old.
    const std::vector<Range>* best = nullptr;
    for (const auto& [gen, ranges] : from_gen_) {
      if (gen < s.gen) break;
      best = &ranges;
    }
    if (best) out.insert(out.end(), best->begin(), best->end());
    return out;
  }
  std::vector<Range> unnamed() const {
    auto it = by_symbol_.find("");
    return it == by_symbol_.end() ? std::vector<Range>{} : it->second;
  }
  // Days covered by a task over every symbol, whatever its generation.
  const std::vector<Range>& all_symbol_days() const { return all_; }

 private:
  std::unordered_map<std::string, std::vector<Range>> by_symbol_;
  std::vector<std::pair<int32_t, std::vector<Range>>> from_gen_;
  std::vector<Range> all_;
};

// `free` clipped to the symbol's life; free ranges without a trading day of it are dropped.
void set_missing(Need& n, const TradingCalendar& cal) {
  std::vector<Range> kept;
  n.missing.clear();
  for (const auto& r : n.free) {
    const int32_t a = std::max(r.first, n.life.first), b = std::min(r.second, n.life.second);
    if (a > b || !cal.first_open_on_or_after(a, b)) continue;
    kept.push_back(r);
    n.missing.emplace_back(a, b);
  }
  n.free = std::move(kept);
}

std::vector<Need> needs_of(const PlanInput& in, const TradingCalendar& cal,
                           const Coverage& coverage) {
  std::vector<Need> out;
  for (const auto& s : in.symbols) {
    int32_t a = in.start_day, b = in.end_day;
    if (s.list_day) a = std::max(a, *s.list_day);
    // A stock trades until the day before its delisting date.
    if (s.delist_day) b = std::min(b, *s.delist_day - 1);
    if (a > b || !cal.first_open_on_or_after(a, b)) continue;
    Need n{&s, {a, b}, subtract(in.start_day, in.end_day, coverage.of(s)), {}};
    set_missing(n, cal);
    out.push_back(std::move(n));
  }
  return out;
}

void plan_symbol_window(const PlanInput& in, const TradingCalendar& cal,
                        const std::vector<Need>& needs, const TaskEmit& out) {
  for (const auto& n : needs)
    for (const auto& r : n.missing) cut(in, cal, n.symbol->code, r, out);
}

int64_t list_size(const PlanInput& in) {
  int64_t k = in.list_max;
  if (row_budget(in) > 0) k = std::min(k, row_budget(in) / std::max<int64_t>(1, in.rows_per_day));
  return k;
}

// Windows of [a, b] for one list of symbols: as many trading days as keep the rows of the
// members trading on them under the cap (and within a fixed window length, if the plan sets
// one).
void cut_list(const PlanInput& in, const DayGrid& grid, const std::vector<const Need*>& members,
              Range r, const TaskEmit& out) {
  const size_t lo = grid.lower(r.first), hi = grid.upper(r.second);
  if (lo >= hi) return;
  ActiveCounts counts(hi - lo);
  std::vector<std::string> codes;
  for (const Need* m : members) {
    auto [l, h] = grid.life(*m->symbol);
    counts.add(std::max(l, lo) - lo, std::max(std::min(h, hi), std::max(l, lo)) - lo);
    codes.push_back(m->symbol->code);
  }
  counts.finish();
  const ParamSet ps = ParamSet::list(std::move(codes));
  const int64_t budget = row_budget(in);
  const size_t n = hi - lo;
  size_t i = 0;
  while (i < n) {
    while (i < n && counts.on(i) == 0) ++i;  // no member trades yet (or any more)
    if (i == n) break;
    const int32_t period_end = in.window == "auto" ? std::numeric_limits<int32_t>::max()
                                                   : add_period(grid.day(lo + i), in.window) - 1;
    size_t j = i;
    int64_t rows = 0;
    while (j < n && grid.day(lo + j) <= period_end) {
      const int64_t add = counts.on(j) * in.rows_per_day;
      if (budget > 0 && j > i && rows + add > budget) break;
      rows += add;
      ++j;
    }
    size_t last = j - 1;
    while (last > i && counts.on(last) == 0) --last;
    out(make_task(in.plan, in.symbol_param, ps, grid.day(lo + i), grid.day(lo + last)));
    i = j;
  }
}

void plan_symbol_list(const PlanInput& in, const TradingCalendar& cal, const DayGrid& grid,
                      const std::vector<Need>& needs, const TaskEmit& out) {
  const int64_t k = list_size(in);
  // Symbols missing the same ranges can share requests; within such a class, symbols with
  // similar lives go together, so each request's rows per day stay even.
  std::map<std::vector<Range>, std::vector<const Need*>> classes;
  for (const auto& n : needs)
    if (!n.free.empty()) classes[n.free].push_back(&n);
  for (auto& [ranges, members] : classes) {
    std::sort(members.begin(), members.end(), [](const Need* a, const Need* b) {
      return std::tie(a->life, a->symbol->code) < std::tie(b->life, b->symbol->code);
    });
    for (size_t at = 0; at < members.size(); at += size_t(k)) {
      std::vector<const Need*> chunk(members.begin() + long(at),
                                     members.begin() + long(std::min(members.size(), at + k)));
      if (chunk.size() == 1) {
        for (const auto& r : chunk[0]->missing) cut(in, cal, chunk[0]->symbol->code, r, out);
        continue;
      }
      int32_t first = chunk[0]->life.first, last = chunk[0]->life.second;
      for (const Need* m : chunk) {
        first = std::min(first, m->life.first);
        last = std::max(last, m->life.second);
      }
      for (const auto& r : ranges) {
        const Range clipped{std::max(r.first, first), std::min(r.second, last)};
        if (clipped.first <= clipped.second) cut_list(in, grid, chunk, clipped, out);
      }
    }
  }
}

// One request per trading day on which every universe symbol that trades still needs the day,
// none has been fetched by date before, and the market's rows fit under the cap. The rest
// (other days, symbols the market list lacks) is cut by symbol.
void plan_date_all(const PlanInput& in, const TradingCalendar& cal, const DayGrid& grid,
                   const Coverage& coverage, std::vector<Need> needs, const TaskEmit& out) {
  std::unordered_set<std::string> in_market;
  std::vector<const Symbol*> market;
  for (const auto& s : *in.market) {
    in_market.insert(s.code);
    market.push_back(&s);
  }
  const ActiveCounts market_rows(grid, market);
  ActiveCounts trading(grid.size()), missing(grid.size()), done_by_date(grid.size());
  for (const auto& n : needs) {
    if (!in_market.count(n.symbol->code)) continue;
    auto [l, h] = grid.life(*n.symbol);
    trading.add(l, h);
    for (const auto& r : n.missing) missing.add(grid.lower(r.first), grid.upper(r.second));
  }
  for (const auto& r : coverage.all_symbol_days())
    done_by_date.add(grid.lower(r.first), grid.upper(r.second));
  trading.finish();
  missing.finish();
  done_by_date.finish();
  int32_t gen = 0;
  for (const auto& s : in.symbols) gen = std::max(gen, s.gen);
  const int64_t budget = row_budget(in);
  std::vector<Range> by_date;
  for (size_t i = 0; i < grid.size(); ++i) {
    const bool fits = budget == 0 || market_rows.on(i) * in.rows_per_day <= budget;
    if (missing.on(i) == 0 || missing.on(i) != trading.on(i) || done_by_date.on(i) > 0 || !fits)
      continue;
    const int32_t d = grid.day(i);
    out(make_task(in.plan, in.symbol_param, ParamSet::all(gen), d, d));
    by_date.emplace_back(d, d);
  }
  by_date = merge_ranges(std::move(by_date), cal);
  for (auto& n : needs) {
    if (!in_market.count(n.symbol->code)) continue;
    n.free = subtract_all(n.free, by_date);
    set_missing(n, cal);
  }
  // The rest by symbol: a list where the endpoint takes one and it is cheaper (counted first,
  // then cut again into `out`, so neither set of tasks is held).
  const bool can_list = std::find(in.strategies.begin(), in.strategies.end(),
                                  Strategy::symbol_list) != in.strategies.end() &&
                        list_size(in) >= 2;
  if (can_list) {
    int64_t single = 0, lists = 0;
    plan_symbol_window(in, cal, needs, [&single](state::Task&&) { ++single; });
    plan_symbol_list(in, cal, grid, needs, [&lists](state::Task&&) { ++lists; });
    if (lists < single) {
      plan_symbol_list(in, cal, grid, needs, out);
      return;
    }
  }
  plan_symbol_window(in, cal, needs, out);
}

}  // namespace

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::symbol_window:
      return "symbol_window";
    case Strategy::symbol_list:
      return "symbol_list";
    case Strategy::date_all_symbols:
      return "date_all_symbols";
  }
  return "?";
}

std::optional<Strategy> parse_strategy(std::string_view s) {
  for (Strategy st : {Strategy::symbol_window, Strategy::symbol_list, Strategy::date_all_symbols})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

std::string task_id(const std::string& plan, const std::string& symbol, int32_t start,
                    int32_t end) {
  return task_id(plan, symbol.empty() ? ParamSet{} : ParamSet::one(symbol), start, end);
}

std::string symbol_params_json(const std::string& param, const std::string& symbol) {
  if (param.empty()) return "{}";
  return params_json(param, ParamSet::one(symbol));
}

std::string task_symbol(const state::Task& t) {
  const ParamSet ps = param_set(t);
  return ps.kind == ParamSet::Kind::symbol ? ps.symbols[0] : "";
}

struct RowModel::Impl {
  const PlanInput& in;
  const TradingCalendar& cal;
  DayGrid grid;
  std::unordered_map<std::string, const Symbol*> universe;
  ActiveCounts market;
  // Per generation g: universe symbols of generations <= g that an answer by date holds.
  std::vector<std::pair<int32_t, ActiveCounts>> landed_by_gen;

  Impl(const PlanInput& input, const TradingCalendar& c)
      : in(input), cal(c), grid(c, input.start_day, input.end_day) {
    std::unordered_set<std::string> in_market;
    std::vector<const Symbol*> market_symbols;
    if (in.market)
      for (const auto& s : *in.market) {
        in_market.insert(s.code);
        market_symbols.push_back(&s);
      }
    std::vector<int32_t> gens;
    for (const auto& s : in.symbols) {
      universe.emplace(s.code, &s);
      gens.push_back(s.gen);
      if (!in.market) market_symbols.push_back(&s);
    }
    market = ActiveCounts(grid, market_symbols);
    std::sort(gens.begin(), gens.end());
    gens.erase(std::unique(gens.begin(), gens.end()), gens.end());
    for (int32_t g : gens) {
      std::vector<const Symbol*> members;
      for (const auto& s : in.symbols)
        if (s.gen <= g && (!in.market || in_market.count(s.code))) members.push_back(&s);
      landed_by_gen.emplace_back(g, ActiveCounts(grid, members));
    }
  }

  int64_t symbol_days(const std::string& code, int32_t a, int32_t b) const {
    auto it = universe.find(code);
    if (it == universe.end()) return cal.count(a, b);
    auto [l, h] = grid.life(*it->second);
    const size_t lo = std::max(l, grid.lower(a)), hi = std::min(h, grid.upper(b));
    return hi > lo ? int64_t(hi - lo) : 0;
  }
};

RowModel::RowModel(const PlanInput& in) {
  static const TradingCalendar weekdays;
  impl_ = std::make_unique<Impl>(in, in.calendar ? *in.calendar : weekdays);
}

RowModel::~RowModel() = default;

TaskRows RowModel::rows(const state::Task& t) const {
  const Impl& m = *impl_;
  const int64_t per_day = std::max<int64_t>(1, m.in.rows_per_day);
  const ParamSet ps = param_set(t);
  TaskRows r;
  switch (ps.kind) {
    case ParamSet::Kind::none:
      r.fetched = m.cal.count(t.start_day, t.end_day);
      r.landed = r.fetched;
      break;
    case ParamSet::Kind::symbol:
    case ParamSet::Kind::symbols:
      for (const auto& s : ps.symbols) r.fetched += m.symbol_days(s, t.start_day, t.end_day);
      r.landed = r.fetched;
      break;
    case ParamSet::Kind::all: {
      const size_t lo = m.grid.lower(t.start_day), hi = m.grid.upper(t.end_day);
      r.fetched = m.market.sum(lo, hi);
      for (const auto& [gen, counts] : m.landed_by_gen)
        if (gen <= ps.gen) r.landed = counts.sum(lo, hi);
      break;
    }
  }
  r.fetched *= per_day;
  r.landed *= per_day;
  return r;
}

int64_t RowModel::requests(const state::Task& t) const {
  const int64_t page = impl_->in.page_rows;
  if (page <= 0) return 1;
  return std::max<int64_t>(1, (rows(t).fetched + page - 1) / page);
}

PlanChoice choose_plan(const PlanInput& in, const std::vector<state::Task>& existing,
                       const TaskEmit& emit) {
  static const TradingCalendar weekdays;
  const TradingCalendar& cal = in.calendar ? *in.calendar : weekdays;
  const Coverage coverage(existing, cal);
  const RowModel model(in);
  PlanChoice choice;
  const std::vector<Need> needs =
      in.symbol_param.empty() ? std::vector<Need>{} : needs_of(in, cal, coverage);
  const bool by_symbol = !in.symbol_param.empty() && !in.whole_range;
  const std::optional<DayGrid> grid =
      by_symbol ? std::optional<DayGrid>(std::in_place, cal, in.start_day, in.end_day)
                : std::nullopt;
  // The strategies that can be priced, in the declared order.
  std::vector<Strategy> candidates;
  if (!by_symbol) {
    candidates.push_back(Strategy::symbol_window);
  } else {
    for (Strategy st : in.strategies) {
      if (std::find(candidates.begin(), candidates.end(), st) != candidates.end()) continue;
      if (st == Strategy::symbol_list && list_size(in) < 2) {
        choice.note += "; symbol_list: two symbols' rows of one day do not fit the row cap";
        continue;
      }
      if (st == Strategy::date_all_symbols && !in.market) {
        choice.note += "; date_all_symbols: the market's symbols are not known in this run";
        continue;
      }
      candidates.push_back(st);
    }
    // Nothing declared could be priced: one symbol per request.
    if (candidates.empty()) candidates.push_back(Strategy::symbol_window);
  }
  auto cut_with = [&](Strategy st, const TaskEmit& out) {
    if (in.symbol_param.empty()) {
      for (const auto& r : subtract(in.start_day, in.end_day, coverage.unnamed()))
        cut(in, cal, "", r, out);
      return;
    }
    switch (st) {
      case Strategy::symbol_window:
        plan_symbol_window(in, cal, needs, out);
        break;
      case Strategy::symbol_list:
        plan_symbol_list(in, cal, *grid, needs, out);
        break;
      case Strategy::date_all_symbols:
        plan_date_all(in, cal, *grid, coverage, needs, out);
        break;
    }
  };
  // Pricing counts what a strategy would cut without keeping it; with one candidate the same
  // pass feeds `emit`, with several the chosen one is cut a second time.
  auto price = [&](Strategy st, const TaskEmit& also) {
    StrategyCost c{st, 0, 0, 0, 0};
    cut_with(st, [&](state::Task&& t) {
      const TaskRows r = model.rows(t);
      ++c.tasks;
      c.requests += model.requests(t);
      c.rows_fetched += r.fetched;
      c.rows_landed += r.landed;
      if (also) also(std::move(t));
    });
    return c;
  };
  const bool one_pass = candidates.size() == 1;
  for (Strategy st : candidates) choice.costs.push_back(price(st, one_pass ? emit : TaskEmit{}));
  size_t best = 0;
  for (size_t i = 1; i < choice.costs.size(); ++i) {
    const auto& c = choice.costs[i];
    const auto& b = choice.costs[best];
    if (std::tie(c.requests, c.rows_fetched) < std::tie(b.requests, b.rows_fetched)) best = i;
  }
  if (in.forced) {
    auto it = std::find(candidates.begin(), candidates.end(), *in.forced);
    if (it != candidates.end())
      best = size_t(it - candidates.begin());
    else
      choice.note += fmt::format("; {} was asked for but could not be priced; using {}",
                                 to_string(*in.forced), to_string(candidates[best]));
  }
  choice.chosen = candidates[best];
  if (!one_pass && emit) cut_with(choice.chosen, emit);
  if (!choice.note.empty()) choice.note.erase(0, 2);
  return choice;
}

PlanChoice choose_plan(const PlanInput& in, const std::vector<state::Task>& existing) {
  std::vector<state::Task> tasks;
  PlanChoice choice =
      choose_plan(in, existing, [&tasks](state::Task&& t) { tasks.push_back(std::move(t)); });
  choice.tasks = std::move(tasks);
  return choice;
}

std::vector<state::Task> plan_tasks(const PlanInput& in, const std::vector<state::Task>& existing) {
  return choose_plan(in, existing).tasks;
}

Result<std::vector<state::Task>> split_in_half(const state::Task& task,
                                               const TradingCalendar& cal) {
  const int64_t n = cal.count(task.start_day, task.end_day);
  if (n < 2)
    return fail(ErrorKind::permanent,
                fmt::format("task {} hit the row cap on a single trading day; it cannot be split "
                            "further (lower the page size or use a finer parameter set)",
                            task.id));
  const int32_t mid = cal.nth_open_from(task.start_day, task.end_day, n / 2);
  auto second = cal.first_open_on_or_after(mid + 1, task.end_day);
  std::vector<state::Task> halves;
  const ParamSet ps = param_set(task);
  for (auto [a, b] : {Range{task.start_day, mid}, Range{*second, task.end_day}}) {
    state::Task t;
    t.plan = task.plan;
    t.params_json = task.params_json;
    t.start_day = a;
    t.end_day = b;
    t.id = task_id(task.plan, ps, a, b);
    t.parent = task.id;
    halves.push_back(std::move(t));
  }
  return halves;
}

std::vector<Symbol> merge_universe(const std::vector<Symbol>& old, std::vector<Symbol> fresh,
                                   bool keep_old) {
  std::unordered_map<std::string, int32_t> gens;
  int32_t next = 0;
  for (const auto& s : old) {
    gens.emplace(s.code, s.gen);
    next = std::max(next, s.gen + 1);
  }
  std::unordered_set<std::string> listed;
  for (auto& s : fresh) {
    auto it = gens.find(s.code);
    s.gen = it != gens.end() ? it->second : next;
    listed.insert(s.code);
  }
  if (keep_old)
    for (const auto& s : old)
      if (!listed.count(s.code)) fresh.push_back(s);
  return fresh;
}

}  // namespace finsync::plan
