#include "engine/estimate.hpp"

#include <cmath>

#include "engine/blocking.hpp"
#include "engine/incremental.hpp"
#include "engine/metadata.hpp"
#include "engine/planning.hpp"
#include "plan/planner.hpp"

namespace finsync::engine {

namespace asio = boost::asio;

void pace(Estimate& e, const std::vector<ratelimit::WindowSpec>& windows,
          const std::string& endpoint) {
  e.seconds = 0;
  e.binding.clear();
  e.per_window.clear();
  for (const auto& w : windows) {
    if (!w.endpoint.empty() && w.endpoint != endpoint) continue;
    const int64_t per_period = std::max<int64_t>(1, w.limit / std::max<int64_t>(1, e.weight));
    const int64_t periods = (e.requests + per_period - 1) / per_period;
    const double secs =
        double(std::max<int64_t>(0, periods - 1)) * std::chrono::duration<double>(w.per).count();
    e.per_window.emplace_back(w.name(), secs);
    if (secs > e.seconds || e.binding.empty()) {
      e.seconds = secs;
      e.binding = w.name();
    }
  }
}

asio::awaitable<Result<Estimate>> estimate_backfill(EstimateDeps deps,
                                                    const AccountLimits& limits) {
  const config::PlanDef& plan = deps.plan;
  auto existing_job =
      [&deps,
       &plan]() -> Result<std::pair<std::optional<state::PlanRecord>, std::vector<state::Task>>> {
    auto rec = deps.store.get_plan(plan.name);
    if (!rec) return fail(rec.error());
    auto tasks = deps.store.list_tasks(plan.name);
    if (!tasks) return fail(tasks.error());
    return std::pair{std::move(*rec), std::move(*tasks)};
  };
  auto existing = co_await run_blocking(deps.store_thread, existing_job);
  if (!existing) co_return fail(existing.error());
  auto& [record, tasks] = *existing;
  std::map<std::string, int32_t> marks;
  if (plan.end_today) {
    auto marks_job = [&deps, &plan] { return deps.store.list_marks(plan.name); };
    auto m = co_await run_blocking(deps.store_thread, marks_job);
    if (!m) co_return fail(m.error());
    marks = std::move(*m);
  }
  std::vector<plan::Symbol> symbols;
  // As a run does: a plan that ends today reads its universe again (new listings).
  if (record && !record->universe_json.empty() && record->spec_yaml == plan.text &&
      !plan.end_today) {
    auto u = universe_from_json(record->universe_json);
    if (!u) co_return fail(u.error());
    symbols = std::move(*u);
  } else {
    auto u = co_await resolve_universe(deps.fetcher, plan.universe);
    if (!u) co_return fail(u.error());
    // As a run would keep it: names planned before keep their generation.
    std::vector<plan::Symbol> old;
    if (record && !record->universe_json.empty())
      if (auto o = universe_from_json(record->universe_json)) old = std::move(*o);
    symbols = plan::merge_universe(old, std::move(*u), !plan.universe.from_endpoint.empty());
  }
  auto cal = co_await fetch_calendar(deps.fetcher, plan.start_day, plan.end_day);
  if (!cal) co_return fail(cal.error());
  auto market = co_await market_symbols(deps.fetcher, plan, deps.endpoint, symbols, true);
  if (!market) co_return fail(market.error());

  Estimate e;
  // A plan that ends today fetches its refresh windows first, as a run queues them; the planner
  // then sees them as covering their days.
  if (!marks.empty()) {
    RefreshQueue q = queue_refresh(
        refresh_tasks(plan, deps.endpoint, marks, symbols, *cal, plan.end_day), tasks);
    e.refresh_tasks = int64_t(q.added.size() + q.again.size());
    tasks.insert(tasks.end(), std::make_move_iterator(q.added.begin()),
                 std::make_move_iterator(q.added.end()));
  }
  const plan::PlanInput in =
      plan_input(plan, deps.endpoint, symbols, *market ? &**market : nullptr, *cal);
  const plan::PlanChoice choice = plan::choose_plan(in, tasks, plan::TaskEmit{});
  const plan::RowModel model(in);
  e.weight = deps.endpoint.weight_for(plan.params);
  // Tasks planned before and not done yet cost the same whatever is chosen for the rest.
  int64_t seen_rows = 0, seen_bytes = 0, pending_requests = 0, pending_fetched = 0;
  for (const auto& t : tasks) {
    if (t.state == state::TaskState::split) continue;
    if (t.state == state::TaskState::succeeded) {
      ++e.tasks_done;
      seen_rows += t.rows;
      seen_bytes += t.bytes;
      continue;
    }
    const plan::TaskRows r = model.rows(t);
    ++e.tasks;
    pending_requests += model.requests(t);
    pending_fetched += r.fetched;
    e.rows += r.landed;
  }
  e.strategy = std::string(plan::to_string(choice.chosen));
  e.note = choice.note;
  int64_t fetched = pending_fetched;
  for (const auto& c : choice.costs) {
    StrategyEstimate s;
    s.name = std::string(plan::to_string(c.strategy));
    s.requests = c.requests + pending_requests;
    s.rows_fetched = c.rows_fetched + pending_fetched;
    s.chosen = c.strategy == choice.chosen;
    Estimate alone;
    alone.weight = e.weight;
    alone.requests = s.requests;
    pace(alone, limits.windows, deps.endpoint.name);
    s.seconds = alone.seconds;
    if (s.chosen) {
      e.tasks += c.tasks;
      e.requests = s.requests;
      e.rows += c.rows_landed;
      fetched = s.rows_fetched;
    }
    e.strategies.push_back(std::move(s));
  }
  // Response bytes per row as seen by earlier runs; a daily bar in JSON is about 120 bytes.
  const double per_row = seen_rows > 0 ? double(seen_bytes) / double(seen_rows) : 120.0;
  e.bytes = int64_t(std::llround(per_row * double(fetched)));
  pace(e, limits.windows, deps.endpoint.name);
  co_return e;
}

}  // namespace finsync::engine
