#include "engine/planning.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "config/yaml_reader.hpp"
#include "core/dates.hpp"
#include "engine/metadata.hpp"

namespace finsync::engine {

namespace asio = boost::asio;

int64_t rows_per_day(const config::EndpointDef& ep, const provider::Params& params) {
  if (ep.interval_param.empty()) return 1;
  for (const auto& [k, v] : params) {
    std::chrono::milliseconds bar{0};
    if (k == ep.interval_param && config::parse_duration(v, bar) && bar.count() > 0)
      return std::max<int64_t>(1, std::chrono::milliseconds(std::chrono::hours(24)) / bar);
  }
  return 1;
}

namespace {

std::string window_of(const config::PlanDef& plan, const config::EndpointDef& ep) {
  return plan.split_window.empty() ? ep.split_window : plan.split_window;
}

}  // namespace

plan::PlanInput plan_input(const config::PlanDef& plan, const config::EndpointDef& ep,
                           const std::vector<plan::Symbol>& symbols,
                           const std::vector<plan::Symbol>* market,
                           const plan::TradingCalendar& calendar) {
  plan::PlanInput in;
  in.plan = plan.name;
  in.symbol_param = ep.symbol_param;
  in.symbols = symbols;
  in.start_day = plan.start_day;
  in.end_day = plan.end_day;
  in.max_rows = ep.max_rows_per_request;
  in.rows_per_day = rows_per_day(ep, plan.params);
  in.whole_range = ep.split_by == "symbol";
  in.window = window_of(plan, ep);
  in.calendar = &calendar;
  in.strategies.clear();
  for (const auto& s : ep.split.strategies)
    if (auto st = plan::parse_strategy(s)) in.strategies.push_back(*st);
  if (!plan.split_strategy.empty()) in.forced = plan::parse_strategy(plan.split_strategy);
  in.list_max = ep.split.allows("symbol_list") ? ep.split.list_max : 0;
  in.market = market;
  if (ep.pagination.kind == "offset")
    in.page_rows = ep.pagination.page_size;
  else if (ep.pagination.kind == "next_url")
    in.page_rows = ep.max_rows_per_request;
  return in;
}

plan::CutRules cut_rules(const config::PlanDef& plan, const config::EndpointDef& ep,
                         const std::vector<plan::Symbol>& symbols,
                         const plan::TradingCalendar* calendar) {
  plan::CutRules::Options o;
  o.symbol_param = ep.symbol_param;
  o.max_rows = ep.max_rows_per_request;
  o.rows_per_day = rows_per_day(ep, plan.params);
  o.list_max = ep.split.allows("symbol_list") ? ep.split.list_max : 0;
  // A fixed window is the user's choice and stays; a paginated answer is never cut.
  o.widen = window_of(plan, ep) == "auto" && ep.pagination.kind == "none" && ep.split_by == "time";
  return plan::CutRules(calendar, symbols, std::move(o));
}

asio::awaitable<Result<std::optional<std::vector<plan::Symbol>>>> market_symbols(
    Fetcher& fetcher, const config::PlanDef& plan, const config::EndpointDef& ep,
    const std::vector<plan::Symbol>& universe, bool may_fetch) {
  using Market = std::optional<std::vector<plan::Symbol>>;
  if (!ep.split.allows("date_all_symbols")) co_return Market{};
  const config::EndpointDef* u = fetcher.provider().def().endpoint(ep.split.universe);
  const std::vector<std::string>& all = u->universe->statuses;
  const std::vector<std::string>& asked = plan.universe.statuses;
  const bool every_status =
      asked.empty() || std::all_of(all.begin(), all.end(), [&](const std::string& s) {
        return std::find(asked.begin(), asked.end(), s) != asked.end();
      });
  if (plan.universe.from_endpoint == ep.split.universe && every_status) co_return Market{universe};
  if (!may_fetch) co_return Market{};
  config::UniverseSpec spec;
  spec.from_endpoint = ep.split.universe;
  Result<std::vector<plan::Symbol>> m = co_await resolve_universe(fetcher, spec);
  if (!m) co_return fail(m.error());
  co_return Market{std::move(*m)};
}

provider::Params request_params(const config::EndpointDef& ep, const provider::Params& fixed,
                                const state::Task& task) {
  const plan::ParamSet ps = plan::param_set(task);
  if (ps.kind == plan::ParamSet::Kind::all) {
    provider::Params out = provider::task_params(ep, fixed, "", std::nullopt, std::nullopt);
    const config::ParamDef* p = ep.param(ep.split.date_param);
    out.emplace_back(ep.split.date_param, dates::format(task.start_day, p->format));
    return out;
  }
  if (ps.kind == plan::ParamSet::Kind::symbols) {
    provider::Params out = provider::task_params(ep, fixed, "", task.start_day, task.end_day);
    out.emplace_back(ep.split.list_param, plan::request_symbols(ps, ep.split.list_separator));
    return out;
  }
  return provider::task_params(ep, fixed, plan::request_symbols(ps, ""), task.start_day,
                               task.end_day);
}

Result<int64_t> plan_and_persist(state::StateStore& store, const plan::PlanInput& in,
                                 const std::vector<state::Task>& existing, plan::PlanChoice& choice,
                                 size_t chunk) {
  std::vector<state::Task> pending;
  pending.reserve(chunk);
  int64_t added = 0;
  std::optional<Error> error;
  auto flush = [&]() {
    if (!pending.empty() && !error) {
      if (auto n = store.add_tasks(pending); !n)
        error = n.error();
      else
        added += *n;
    }
    pending.clear();
  };
  choice = plan::choose_plan(in, existing, [&](state::Task&& t) {
    pending.push_back(std::move(t));
    if (pending.size() >= chunk) flush();
  });
  flush();
  if (error) return tl::unexpected(*error);
  return added;
}

std::string describe_choice(const plan::PlanChoice& choice) {
  std::string chosen, others;
  for (const auto& c : choice.costs) {
    if (c.strategy == choice.chosen)
      chosen = fmt::format("{}, {} requests", plan::to_string(c.strategy), c.requests);
    else
      others += fmt::format("{}{} {}", others.empty() ? "" : ", ", plan::to_string(c.strategy),
                            c.requests);
  }
  if (!others.empty()) chosen += fmt::format(" ({})", others);
  return chosen;
}

}  // namespace finsync::engine
