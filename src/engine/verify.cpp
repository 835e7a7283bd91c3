#include "engine/verify.hpp"

#include <algorithm>
#include <unordered_map>

#include "plan/param_set.hpp"

namespace finsync::engine {

namespace {

constexpr std::string_view kFixSuffix = "/fix";

// Days of `symbol` that fix tasks fetched again and that stayed empty are the provider's.
std::vector<std::pair<int32_t, int32_t>> fixed_windows(const std::vector<state::Task>& tasks,
                                                       const std::string& symbol) {
  std::vector<std::pair<int32_t, int32_t>> out;
  for (const auto& t : tasks)
    if (is_fix_task(t) && t.state == state::TaskState::succeeded && plan::task_symbol(t) == symbol)
      out.emplace_back(t.start_day, t.end_day);
  return out;
}

}  // namespace

bool is_fix_task(const state::Task& t) {
  return t.id.size() > kFixSuffix.size() &&
         std::string_view(t.id).substr(t.id.size() - kFixSuffix.size()) == kFixSuffix;
}

VerifyReport verify_landed(const config::PlanDef& plan, const std::vector<plan::Symbol>& universe,
                           const plan::TradingCalendar& calendar, int32_t last_day,
                           const std::map<std::string, std::vector<int32_t>>& landed,
                           const std::vector<state::Task>& tasks) {
  VerifyReport rep;
  rep.first_day = plan.start_day;
  rep.last_day = last_day;
  std::vector<plan::Symbol> symbols = universe;
  std::sort(symbols.begin(), symbols.end(),
            [](const plan::Symbol& a, const plan::Symbol& b) { return a.code < b.code; });
  static const std::vector<int32_t> none;
  for (const auto& s : symbols) {
    ++rep.symbols;
    // Rows from the listing day up to the day before delisting.
    const int32_t lo = std::max(plan.start_day, s.list_day.value_or(plan.start_day));
    const int32_t hi = std::min(last_day, s.delist_day ? *s.delist_day - 1 : last_day);
    auto it = landed.find(s.code);
    const std::vector<int32_t>& have = it == landed.end() ? none : it->second;
    const auto fixed = fixed_windows(tasks, s.code);
    auto confirmed = [&](int32_t d) {
      return std::any_of(fixed.begin(), fixed.end(),
                         [d](const auto& w) { return d >= w.first && d <= w.second; });
    };
    SymbolCheck c;
    c.symbol = s.code;
    size_t k = std::lower_bound(have.begin(), have.end(), plan.start_day) - have.begin();
    DayRange open_gap;
    bool in_gap = false;
    auto close_gap = [&]() {
      if (in_gap) c.gaps.push_back(open_gap);
      in_gap = false;
    };
    for (int32_t d = lo; d <= hi; ++d) {
      if (!calendar.is_open(d)) continue;
      ++rep.expected_days;
      while (k < have.size() && have[k] < d) {
        c.extra.push_back(have[k]);  // a landed day between two trading days: not one of them
        ++k;
      }
      if (k < have.size() && have[k] == d) {
        ++k;
        close_gap();
        continue;
      }
      if (confirmed(d)) {
        ++c.confirmed_empty;
        continue;  // the provider has no row here: the gap around it stays one gap
      }
      if (!in_gap) open_gap = {d, d, 0};
      in_gap = true;
      open_gap.last = d;
      ++open_gap.days;
    }
    close_gap();
    // Days before the listing, after the delisting or on closed days past the last trading day.
    for (size_t j = 0; j < have.size(); ++j) {
      const int32_t d = have[j];
      if (d < plan.start_day || d > last_day) continue;
      if (d < lo || d > hi) c.extra.push_back(d);
    }
    for (; k < have.size() && have[k] <= hi; ++k)
      if (have[k] >= lo) c.extra.push_back(have[k]);
    std::sort(c.extra.begin(), c.extra.end());
    c.extra.erase(std::unique(c.extra.begin(), c.extra.end()), c.extra.end());
    for (const auto& g : c.gaps) rep.gap_days += g.days;
    rep.extra_rows += int64_t(c.extra.size());
    rep.confirmed_empty += c.confirmed_empty;
    if (!c.gaps.empty() || !c.extra.empty()) rep.issues.push_back(std::move(c));
  }
  return rep;
}

std::vector<state::Task> fix_tasks(const config::PlanDef& plan, const config::EndpointDef& ep,
                                   const VerifyReport& report) {
  std::vector<state::Task> out;
  for (const auto& c : report.issues)
    for (const auto& g : c.gaps) {
      state::Task t = plan::make_task(plan.name, ep.symbol_param, plan::ParamSet::one(c.symbol),
                                      g.first, g.last);
      t.id += kFixSuffix;
      out.push_back(std::move(t));
    }
  return out;
}

}  // namespace finsync::engine
