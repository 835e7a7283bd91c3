#include "engine/estimate.hpp"

#include <cmath>

#include "engine/blocking.hpp"
#include "engine/metadata.hpp"
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
  std::vector<plan::Symbol> symbols;
  if (record && !record->universe_json.empty() && record->spec_yaml == plan.text) {
    auto u = universe_from_json(record->universe_json);
    if (!u) co_return fail(u.error());
    symbols = std::move(*u);
  } else {
    auto u = co_await resolve_universe(deps.fetcher, plan.universe);
    if (!u) co_return fail(u.error());
    symbols = std::move(*u);
  }
  auto cal = co_await fetch_calendar(deps.fetcher, plan.start_day, plan.end_day);
  if (!cal) co_return fail(cal.error());

  plan::PlanInput in;
  in.plan = plan.name;
  in.symbol_param = deps.endpoint.symbol_param;
  in.symbols = symbols;
  in.start_day = plan.start_day;
  in.end_day = plan.end_day;
  in.max_rows = deps.endpoint.max_rows_per_request;
  in.window = plan.split_window.empty() ? deps.endpoint.split_window : plan.split_window;
  in.calendar = &*cal;
  std::vector<state::Task> todo = plan::plan_tasks(in, tasks);
  int64_t seen_rows = 0, seen_bytes = 0;
  Estimate e;
  for (const auto& t : tasks) {
    if (t.state == state::TaskState::split) continue;
    if (t.state == state::TaskState::succeeded) {
      ++e.tasks_done;
      seen_rows += t.rows;
      seen_bytes += t.bytes;
    } else {
      todo.push_back(t);
    }
  }
  e.requests = int64_t(todo.size());
  e.weight = deps.endpoint.weight_for(plan.params);
  for (const auto& t : todo) e.rows += cal->count(t.start_day, t.end_day);
  // Response bytes per row as seen by earlier runs; a daily bar in JSON is about 120 bytes.
  const double per_row = seen_rows > 0 ? double(seen_bytes) / double(seen_rows) : 120.0;
  e.bytes = int64_t(std::llround(per_row * double(e.rows)));
  pace(e, limits.windows, deps.endpoint.name);
  co_return e;
}

}  // namespace finsync::engine
