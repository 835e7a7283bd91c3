#pragma once
// One run of a plan: resolve metadata, plan what is not covered yet, run the tasks under the
// limiter with N in flight, land each task through the sink (whose commit writes the
// checkpoint), and record a run report.
#include <atomic>
#include <functional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "config/plan_def.hpp"
#include "engine/fetcher.hpp"
#include "engine/leases.hpp"
#include "sink/sink.hpp"
#include "state/state_store.hpp"

namespace finsync::engine {

enum class Outcome {
  done,
  failed_tasks,
  auth,
  unreachable,
  parked,
  paused,     // the plan is paused from the CLI: nothing ran
  cancelled,  // cancelled from the CLI
  interrupted,
  invalid,
  internal
};

struct Progress {
  int64_t tasks_total = 0;
  int64_t tasks_done = 0;  // succeeded, dead or split, this run and before
  int64_t rows = 0;
  int64_t requests = 0;
};

struct BackfillOptions {
  int concurrency = 4;
  bool replan = false;
  LeaseSettings lease;  // every task is leased before it runs; lease.holder must be set
  std::function<void(const Progress&)> on_progress;  // called on the I/O thread
};

struct BackfillDeps {
  const config::PlanDef& plan;
  const config::EndpointDef& endpoint;
  const sink::SinkSpec& sink_spec;
  Fetcher& fetcher;
  state::StateStore& store;
  sink::Sink& sink;
  boost::asio::thread_pool& store_thread;  // every SQLite and DuckDB call runs here
  const Clock& clock;
  std::atomic<bool>& stopping;
};

struct BackfillResult {
  Outcome outcome = Outcome::done;
  std::string message;
  // Outcome parked: how many tasks wait for a quota reset, and the earliest reset.
  int64_t parked = 0;
  std::optional<TimePoint> resume_at;
  state::RunRecord run;
  sink::SinkStats sink_stats;
};

boost::asio::awaitable<BackfillResult> run_backfill(BackfillDeps deps, BackfillOptions options);

// provider/endpoint/sink/mode: what may not change under an existing plan without --replan.
std::string plan_fingerprint(const config::PlanDef& plan);
// Whose landed-markers a sink keeps for this plan: the name plus a digest of the fingerprint, so
// markers of a definition replaced with --replan never vouch for the new one.
std::string landing_key(const config::PlanDef& plan);

}  // namespace finsync::engine
