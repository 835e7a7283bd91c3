#pragma once
// From a plan and its endpoint to what the planner and a run cut by, and from a task to the
// parameters of its request.
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/plan_def.hpp"
#include "config/provider_def.hpp"
#include "engine/fetcher.hpp"
#include "plan/cut_rules.hpp"
#include "plan/planner.hpp"
#include "provider/provider.hpp"
#include "state/state_store.hpp"

namespace finsync::engine {

// Bars per day of the plan's interval parameter ("1h": 24); 1 without one.
int64_t rows_per_day(const config::EndpointDef& ep, const provider::Params& params);

// The planner's input; `symbols`, `market` and `calendar` must outlive it.
plan::PlanInput plan_input(const config::PlanDef& plan, const config::EndpointDef& ep,
                           const std::vector<plan::Symbol>& symbols,
                           const std::vector<plan::Symbol>* market,
                           const plan::TradingCalendar& calendar);

plan::CutRules cut_rules(const config::PlanDef& plan, const config::EndpointDef& ep,
                         const std::vector<plan::Symbol>& symbols,
                         const plan::TradingCalendar* calendar);

// The symbols an answer by date holds, for pricing date_all_symbols: the plan's universe when
// it is the market (every status of the endpoint the strategy names), else that endpoint's
// list, fetched (metadata requests) only when `may_fetch`. Nothing when the endpoint declares
// no such strategy or the list is not fetched.
boost::asio::awaitable<Result<std::optional<std::vector<plan::Symbol>>>> market_symbols(
    Fetcher& fetcher, const config::PlanDef& plan, const config::EndpointDef& ep,
    const std::vector<plan::Symbol>& universe, bool may_fetch);

// A task's request: the plan's fixed parameters, its symbol or list of symbols, and its window
// (or its day, for every symbol).
provider::Params request_params(const config::EndpointDef& ep, const provider::Params& fixed,
                                const state::Task& task);

// Plans what `existing` does not cover and persists the tasks as the planner cuts them, `chunk`
// to a transaction: a plan of a million tasks is never held whole, and a crash half-way leaves
// chunks the next planning finds covered. The tasks added; the strategies priced in `choice`.
Result<int64_t> plan_and_persist(state::StateStore& store, const plan::PlanInput& in,
                                 const std::vector<state::Task>& existing, plan::PlanChoice& choice,
                                 size_t chunk = 10000);

// "symbol_list, 40 requests (symbol_window 100, date_all_symbols 480)"
std::string describe_choice(const plan::PlanChoice& choice);

}  // namespace finsync::engine
