#include "engine/incremental.hpp"

#include <algorithm>
#include <unordered_map>

#include <date/tz.h>

#include "plan/param_set.hpp"

namespace finsync::engine {

DayClock day_clock(const config::EndpointDef& ep, TimePoint now) {
  const date::time_zone* zone = date::locate_zone(ep.zone);
  const auto local = zone->to_local(std::chrono::floor<std::chrono::seconds>(now));
  const auto day = date::floor<date::days>(local);
  DayClock c;
  c.today = int32_t(day.time_since_epoch().count());
  const auto into = std::chrono::floor<std::chrono::minutes>(local - day);
  c.published = !ep.available_after || into >= *ep.available_after ? c.today : c.today - 1;
  return c;
}

namespace {

// The first of the `n` open days up to `mark`, or the first open day after it when n is 0.
int32_t lookback_start(const plan::TradingCalendar& cal, int32_t mark, int n, int32_t floor_day) {
  int32_t day = mark + 1;
  for (int i = 0; i < n; ++i) {
    auto open = cal.last_open_on_or_before(day - 1, floor_day);
    if (!open) break;
    day = *open;
  }
  return std::max(day, floor_day);
}

}  // namespace

std::vector<state::Task> refresh_tasks(const config::PlanDef& plan, const config::EndpointDef& ep,
                                       const std::map<std::string, int32_t>& marks,
                                       const std::vector<plan::Symbol>& symbols,
                                       const plan::TradingCalendar& calendar, int32_t end) {
  std::unordered_map<std::string, const plan::Symbol*> by_code;
  for (const auto& s : symbols) by_code[s.code] = &s;
  std::vector<state::Task> out;
  for (const auto& [params, mark] : marks) {
    state::Task probe;
    probe.params_json = params;
    const plan::ParamSet ps = plan::param_set(probe);
    const int32_t first = lookback_start(calendar, mark, plan.lookback, plan.start_day);
    if (first > end) continue;
    if (ps.kind == plan::ParamSet::Kind::symbol) {
      auto it = by_code.find(ps.symbols.front());
      if (it == by_code.end()) continue;  // no longer in the plan's universe
      // No rows on or after the delisting day.
      if (it->second->delist_day && *it->second->delist_day <= first) continue;
    }
    if (ps.kind == plan::ParamSet::Kind::all) {
      for (int32_t d = first; d <= end; ++d)
        if (calendar.is_open(d))
          out.push_back(plan::make_task(plan.name, ep.symbol_param, ps, d, d));
      continue;
    }
    out.push_back(plan::make_task(plan.name, ep.symbol_param, ps, first, end));
  }
  return out;
}

RefreshQueue queue_refresh(std::vector<state::Task> fresh, std::vector<state::Task>& tasks) {
  std::unordered_map<std::string, state::Task*> by_id;
  for (auto& t : tasks) by_id[t.id] = &t;
  RefreshQueue q;
  for (auto& f : fresh) {
    auto it = by_id.find(f.id);
    if (it == by_id.end()) {
      q.added.push_back(std::move(f));
      continue;
    }
    state::Task& t = *it->second;
    if (t.state != state::TaskState::succeeded && t.state != state::TaskState::dead) continue;
    t.state = state::TaskState::pending;
    t.attempts = 0;
    t.last_error.clear();
    t.resume_at.reset();
    q.again.push_back(&t);
  }
  return q;
}

std::map<std::string, int32_t> marks_from(const std::vector<state::Task>& tasks,
                                          int32_t published) {
  std::map<std::string, int32_t> last;
  std::map<std::string, bool> complete;
  for (const auto& t : tasks) {
    if (t.state == state::TaskState::split) continue;
    auto it = complete.try_emplace(t.params_json, true).first;
    if (t.state != state::TaskState::succeeded) it->second = false;
    int32_t& l = last.try_emplace(t.params_json, t.end_day).first->second;
    l = std::max(l, t.end_day);
  }
  std::map<std::string, int32_t> out;
  for (const auto& [params, day] : last)
    if (complete[params]) out[params] = std::min(day, published);
  return out;
}

int64_t provisional_tasks(const std::vector<state::Task>& tasks, int32_t published) {
  return std::count_if(tasks.begin(), tasks.end(), [&](const state::Task& t) {
    return t.state == state::TaskState::succeeded && t.end_day > published;
  });
}

}  // namespace finsync::engine
