#pragma once
// What a backfill will cost before it sends a data request: the tasks the planner would add,
// the requests, rows and bytes they mean, and how long the configured limits make it take.
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "engine/backfill.hpp"
#include "engine/limits.hpp"

namespace finsync::engine {

// One way to cut the plan, priced.
struct StrategyEstimate {
  std::string name;
  int64_t requests = 0;      // with the tasks already planned and not done
  int64_t rows_fetched = 0;  // expected rows of the answers (answers by date hold every symbol)
  double seconds = 0;        // under the limits
  bool chosen = false;
};

struct Estimate {
  int64_t tasks_done = 0;     // already landed, not counted below
  int64_t tasks = 0;          // tasks still to fetch
  int64_t refresh_tasks = 0;  // of which a plan ending today fetches again (its lookback)
  int64_t requests = 0;       // data requests still needed (a task's pages each count)
  int64_t weight = 1;         // weight of each
  int64_t rows = 0;           // expected: one row per trading day per task window
  int64_t bytes = 0;          // rows times the bytes per row seen so far (or a default)
  double seconds = 0;         // wall-clock time under the limits
  std::string binding;        // the window that sets the pace
  std::vector<std::pair<std::string, double>> per_window;  // seconds each window alone needs
  std::string strategy;                                    // the planner's choice
  std::vector<StrategyEstimate> strategies;                // every strategy priced
  std::string note;                                        // strategies that were not priced
};

// Seconds `requests` of `weight` need under `windows` (those that apply to `endpoint`): a
// window of `limit` per `per` lets limit/weight through per period, so n requests take
// ceil(n*weight/limit) - 1 full periods after the first.
void pace(Estimate& e, const std::vector<ratelimit::WindowSpec>& windows,
          const std::string& endpoint);

// Resolves metadata through the fetcher (universe, calendar), plans without persisting.
struct EstimateDeps {
  const config::PlanDef& plan;
  const config::EndpointDef& endpoint;
  Fetcher& fetcher;
  state::StateStore& store;
  boost::asio::thread_pool& store_thread;
};

boost::asio::awaitable<Result<Estimate>> estimate_backfill(EstimateDeps deps,
                                                           const AccountLimits& limits);

}  // namespace finsync::engine
