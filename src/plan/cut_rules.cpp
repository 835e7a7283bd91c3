#include "plan/cut_rules.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "plan/param_set.hpp"

namespace finsync::plan {

CutRules::CutRules(const TradingCalendar* calendar, std::vector<Symbol> universe, Options options)
    : cal_(calendar), universe_(std::move(universe)), o_(std::move(options)) {
  std::sort(universe_.begin(), universe_.end(),
            [](const Symbol& a, const Symbol& b) { return a.code < b.code; });
  for (const auto& s : universe_) gens_.emplace(s.code, s.gen);
}

Result<std::vector<state::Task>> CutRules::split_capped(const state::Task& task) const {
  const ParamSet ps = param_set(task);
  const bool one_day = cal_->count(task.start_day, task.end_day) < 2;
  if (!one_day || ps.kind == ParamSet::Kind::none || ps.kind == ParamSet::Kind::symbol)
    return split_in_half(task, *cal_);
  std::vector<std::vector<std::string>> groups;
  if (ps.kind == ParamSet::Kind::symbols) {
    const auto mid = ps.symbols.begin() + long(ps.symbols.size() / 2);
    groups.emplace_back(ps.symbols.begin(), mid);
    groups.emplace_back(mid, ps.symbols.end());
  } else {
    // Every symbol on one day was more than the cap: the universe's symbols trading that day,
    // as many per request as fit.
    const int32_t day = task.start_day;
    std::vector<std::string> members;
    for (const auto& s : universe_)
      if (s.gen <= ps.gen && (!s.list_day || *s.list_day <= day) &&
          (!s.delist_day || day < *s.delist_day))
        members.push_back(s.code);
    if (members.empty())
      return fail(ErrorKind::permanent,
                  fmt::format("task {} hit the row cap on one trading day and no symbol of the "
                              "universe trades that day; it cannot be split",
                              task.id));
    int64_t k = 1;
    if (o_.list_max >= 2) {
      k = o_.list_max;
      if (o_.max_rows > 1)
        k = std::min(k, (o_.max_rows - 1) / std::max<int64_t>(1, o_.rows_per_day));
      k = std::max<int64_t>(1, k);
    }
    for (size_t at = 0; at < members.size(); at += size_t(k))
      groups.emplace_back(members.begin() + long(at),
                          members.begin() + long(std::min(members.size(), at + size_t(k))));
  }
  std::vector<state::Task> children;
  for (auto& g : groups) {
    state::Task t = make_task(task.plan, o_.symbol_param, ParamSet::list(std::move(g)),
                              task.start_day, task.end_day);
    t.parent = task.id;
    children.push_back(std::move(t));
  }
  return children;
}

std::optional<Widening> CutRules::widen_after(const state::Task& done, int64_t rows,
                                              const std::deque<state::Task>& queue) const {
  if (!o_.widen || o_.max_rows <= 1) return std::nullopt;
  const int64_t budget = o_.max_rows - 1;
  if (rows * 4 > budget) return std::nullopt;
  if (param_set(done).kind == ParamSet::Kind::all) return std::nullopt;  // one day by design
  const int64_t days = cal_->count(done.start_day, done.end_day);
  if (days == 0) return std::nullopt;
  // The queue is in window order across parameter sets, so a set's next windows lie within as
  // many tasks as there are sets; the look stays bounded on plans of millions of tasks.
  constexpr size_t kLookAhead = 50'000;
  std::vector<const state::Task*> next;
  const size_t look = std::min(queue.size(), kLookAhead);
  for (size_t i = 0; i < look; ++i) {
    const state::Task& t = queue[i];
    if (t.start_day > done.end_day && t.state == state::TaskState::pending && t.attempts == 0 &&
        t.params_json == done.params_json)
      next.push_back(&t);
  }
  std::sort(next.begin(), next.end(),
            [](const state::Task* a, const state::Task* b) { return a->start_day < b->start_day; });
  Widening w;
  int64_t total = 0;
  for (const state::Task* t : next) {
    if (!w.parts.empty()) {
      auto after = cal_->first_open_on_or_after(w.parts.back().end_day + 1, t->start_day);
      if (!after || *after != t->start_day) break;  // a window in between is not pending
    }
    const int64_t with = total + cal_->count(t->start_day, t->end_day);
    const int64_t projected = (rows * with + days - 1) / days;
    if (with > 4 * days || 2 * projected > budget) break;
    total = with;
    w.parts.push_back(*t);
  }
  if (w.parts.size() < 2) return std::nullopt;
  w.merged = w.parts.front();
  w.merged.end_day = w.parts.back().end_day;
  w.merged.id = task_id(done.plan, param_set(done), w.merged.start_day, w.merged.end_day);
  w.merged.parent.clear();
  return w;
}

RecordBatch CutRules::keep_universe(const RecordBatch& batch, int column, int32_t gen) const {
  RecordBatch out(batch.schema());
  if (column < 0) return out;
  const Column& col = batch.column(size_t(column));
  auto keep = [&](size_t i) {
    if (!col.valid(i)) return false;
    auto it = gens_.find(col.string_at(i));
    return it != gens_.end() && it->second <= gen;
  };
  // Runs of kept rows are appended at once.
  size_t i = 0;
  const size_t n = batch.num_rows();
  while (i < n) {
    while (i < n && !keep(i)) ++i;
    size_t j = i;
    while (j < n && keep(j)) ++j;
    if (j > i) out.append_rows(batch, i, j);
    i = j;
  }
  return out;
}

}  // namespace finsync::plan
