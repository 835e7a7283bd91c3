#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/commands.hpp"
#include "app/progress.hpp"
#include "app/sink_setup.hpp"
#include "app/verify_command.hpp"
#include "config/env.hpp"
#include "core/dates.hpp"
#include "engine/backfill.hpp"
#include "engine/estimate.hpp"
#include "engine/incremental.hpp"
#include "engine/limits.hpp"
#include "report/run_report.hpp"
#include "sink/registry.hpp"

namespace finsync::app {

namespace asio = boost::asio;

namespace {

int exit_for(engine::Outcome o) {
  switch (o) {
    case engine::Outcome::done:
      return kDone;
    case engine::Outcome::failed_tasks:
      return kFailedTasks;
    case engine::Outcome::auth:
      return kAuth;
    case engine::Outcome::unreachable:
      return kUnreachable;
    case engine::Outcome::parked:
      return kParked;
    case engine::Outcome::paused:
      return kParked;
    case engine::Outcome::cancelled:
      return kInterrupted;
    case engine::Outcome::interrupted:
      return kInterrupted;
    case engine::Outcome::invalid:
      return kConfig;
    case engine::Outcome::internal:
      return kInternal;
  }
  return kInternal;
}

std::string format_time(TimePoint t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(t));
}

// Waits until `until` on the io_context, redrawing a countdown; false when a signal came first.
asio::awaitable<bool> wait_for_reset(TimePoint until, const Clock& clock,
                                     const std::atomic<bool>& interrupted,
                                     ProgressDisplay& progress) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  while (!interrupted) {
    const auto left = std::chrono::ceil<std::chrono::seconds>(until - clock.now());
    if (left.count() <= 0) co_return true;
    progress.waiting(double(left.count()));
    timer.expires_after(std::min<std::chrono::milliseconds>(left, std::chrono::milliseconds(250)));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return false;
}

int print_estimate(asio::io_context& io, const config::PlanDef& plan,
                   const config::EndpointDef& endpoint, engine::Fetcher& fetcher,
                   state::StateStore& store, asio::thread_pool& store_thread,
                   const engine::AccountLimits& limits) {
  Result<engine::Estimate> est = fail(ErrorKind::internal, "estimate did not finish");
  asio::co_spawn(io,
                 engine::estimate_backfill({plan, endpoint, fetcher, store, store_thread}, limits),
                 [&](std::exception_ptr e, Result<engine::Estimate> r) {
                   if (e) std::rethrow_exception(e);
                   est = std::move(r);
                 });
  io.run();
  store_thread.join();
  if (!est) {
    spdlog::error("{}", est.error().message);
    return exit_code_for(est.error());
  }
  std::string out = fmt::format("plan {}: estimate before any data request\n", plan.name);
  out += fmt::format("  {:<10} {} still to fetch ({} already landed)\n", "tasks", est->tasks,
                     est->tasks_done);
  if (est->refresh_tasks > 0)
    out += fmt::format(
        "  {:<10} {} of them fetch again the last {} trading days of a parameter set and every "
        "day after\n",
        "refresh", est->refresh_tasks, plan.lookback);
  out += fmt::format("  {:<10} {} data requests of weight {} (plus metadata: symbols, calendar)\n",
                     "requests", est->requests, est->weight);
  out += fmt::format("  {:<10} about {} to land (one per trading day per listed symbol)\n", "rows",
                     est->rows);
  out += fmt::format("  {:<10} about {:.1f} MiB\n", "bytes", double(est->bytes) / 1048576.0);
  out += fmt::format("  {:<10} about {} under the limits of account {}/{}{}\n", "time",
                     report::format_duration(est->seconds), limits.provider, limits.account,
                     est->binding.empty() ? "" : fmt::format(" (pace set by {})", est->binding));
  for (const auto& [window, secs] : est->per_window)
    out += fmt::format("  {:<10} {}: {}\n", "window", window, report::format_duration(secs));
  out += fmt::format("  {:<10} {} ({})\n", "strategy", est->strategy,
                     plan.split_strategy.empty()
                         ? fmt::format("the fewest requests of {} priced", est->strategies.size())
                         : std::string("the plan's split.strategy"));
  for (const auto& s : est->strategies)
    out += fmt::format("  {:<10} {:<17} {:>9} requests {:>12} rows fetched  {}{}\n", "split",
                       s.name, s.requests, s.rows_fetched, report::format_duration(s.seconds),
                       s.chosen ? "  <- chosen" : "");
  if (!est->note.empty()) out += fmt::format("  {:<10} {}\n", "note", est->note);
  std::fputs(out.c_str(), stdout);
  return kDone;
}

}  // namespace

int cmd_run(const GlobalOptions& g, const RunArgs& args) {
  Context ctx;
  std::optional<config::PlanDef> plan;
  if (int rc = load_checked_plan(g, args.plan, ctx, plan); rc != kDone) return rc;
  // A parameter may name a variable (a credential an endpoint takes as a parameter); the plan
  // text stored with the run keeps the reference, never the value.
  for (auto& [name, value] : plan->params) {
    if (value.find("${") == std::string::npos) continue;
    auto expanded = config::expand_env({value, fmt::format("{}: params.{}", plan->source, name)},
                                       config::secret_key_name(name));
    if (!expanded) {
      spdlog::error("{}", expanded.error().message);
      return kConfig;
    }
    value = std::move(*expanded);
  }
  const config::ProviderDef& pdef = *ctx.catalog.find(plan->provider);
  const config::EndpointDef& endpoint = *pdef.endpoint(plan->endpoint);
  if (plan->end_today) {
    plan->end_day = engine::day_clock(endpoint, SystemClock().now()).today;
    if (plan->end_day < plan->start_day) {
      spdlog::error("{}: range.end is today ({} in {}), before range.start ({})", plan->source,
                    dates::iso(plan->end_day), endpoint.zone, dates::iso(plan->start_day));
      return kConfig;
    }
  }

  provider::ProviderRegistry providers;
  provider::register_builtin_providers(providers);
  auto prov = providers.create(pdef);
  if (!prov) {
    spdlog::error("{}", prov.error().message);
    return exit_code_for(prov.error());
  }

  auto made_spec = make_sink_spec(*plan, /*expand=*/true);
  if (!made_spec) {
    spdlog::error("{}", made_spec.error().message);
    return kConfig;
  }
  const sink::SinkSpec spec = std::move(*made_spec);

  net::HttpOptions http;
  http.connect_timeout = ctx.workspace.http.connect_timeout;
  http.total_timeout = ctx.workspace.http.timeout;
  http.low_speed_time =
      std::chrono::duration_cast<std::chrono::seconds>(ctx.workspace.http.low_speed_time);
  http.verify_tls = ctx.workspace.http.verify_tls;
  if (!ctx.workspace.http.ca_file.text.empty()) {
    auto ca = config::expand_env(ctx.workspace.http.ca_file);
    if (!ca) {
      spdlog::error("{}", ca.error().message);
      return kConfig;
    }
    http.ca_file = *ca;
  }

  std::error_code ec;
  std::filesystem::create_directories(ctx.workspace.data_dir, ec);
  auto store = open_state_store(ctx, /*create=*/true);
  if (!store) {
    spdlog::error("{}", store.error().message);
    return exit_code_for(store.error());
  }
  auto ledger = (*store)->open_ledger();
  if (!ledger) {
    spdlog::error("{}", ledger.error().message);
    return exit_code_for(ledger.error());
  }
  sink::SinkRegistry sinks;
  sink::register_builtin_sinks(sinks);
  const sink::TableSpec table{engine::landing_key(*plan), spec.table,           endpoint.schema(),
                              endpoint.primary_key,       endpoint.time_column, spec.mode};

  asio::io_context io(1);
  asio::thread_pool store_thread(1);
  asio::thread_pool ledger_thread(1);
  SystemClock clock;
  std::atomic<bool> stopping{false};
  std::atomic<bool> interrupted{false};
  net::HttpClient client(io, http);
  const engine::AccountLimits limits = engine::account_limits(pdef, ctx.workspace);
  ratelimit::LimiterOptions lopts;
  lopts.provider = limits.provider;
  lopts.account = limits.account;
  lopts.windows = limits.windows;
  // A slot whose holder died stops counting once its request would have timed out anyway.
  lopts.in_flight_timeout = ctx.workspace.http.timeout + ctx.workspace.http.connect_timeout;
  ratelimit::Limiter limiter(lopts, **ledger, clock);
  engine::RetryPolicy retry{ctx.workspace.max_attempts, ctx.workspace.backoff_initial,
                            ctx.workspace.backoff_max};
  engine::Fetcher fetcher({**prov, client, limiter, limits, ledger_thread, clock, stopping}, retry);

  if (args.estimate_only)
    return print_estimate(io, *plan, endpoint, fetcher, **store, store_thread, limits);

  if (args.verify_only) {
    auto snk = sinks.create(spec, sink_context(ctx));
    if (!snk) {
      spdlog::error("{}", snk.error().message);
      return exit_code_for(snk.error());
    }
    const int rc = run_verify(io, *plan, endpoint, fetcher, **store, **snk, table, args.fix);
    store_thread.join();
    ledger_thread.join();
    return rc;
  }

  // First signal: stop sending, let in-flight requests land and checkpoint. Second: abort at
  // once; every store is transactional, so the next run resumes safely.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& err, int) {
        if (err) return;
        stopping = true;
        if (interrupted.exchange(true)) {
          static const char msg[] = "\nfinsync: aborted\n";
          (void)!::write(2, msg, sizeof msg - 1);
          std::_Exit(kInterrupted);
        }
        spdlog::warn(
            "stopping: no new requests; in-flight ones land and checkpoint (signal "
            "again to abort at once)");
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  ProgressDisplay progress(::isatty(2) == 1);
  engine::BackfillOptions options;
  options.concurrency = args.concurrency > 0    ? args.concurrency
                        : plan->concurrency > 0 ? plan->concurrency
                                                : ctx.workspace.concurrency;
  options.replan = args.replan;
  options.lease = {engine::lease_holder_id(clock), ctx.workspace.lease_duration};
  options.on_progress = [&progress](const engine::Progress& p) { progress.update(p); };
  engine::BackfillResult result;
  auto run_io = [&]() -> bool {
    try {
      io.restart();
      io.run();
      return true;
    } catch (const std::exception& e) {
      progress.finish();
      spdlog::critical("internal error: {}", e.what());
      return false;
    }
  };
  // Runs until done, or parked with --no-wait: a spent quota waits for its reset here, then the
  // same plan carries on where it stopped.
  for (;;) {
    // A fresh sink per round: closing one brings the derived files up to date.
    auto snk = sinks.create(spec, sink_context(ctx));
    if (!snk) {
      spdlog::error("{}", snk.error().message);
      return exit_code_for(snk.error());
    }
    if (auto joined = join_state_store(ctx, spec, **snk); !joined) {
      spdlog::error("{}", joined.error().message);
      return exit_code_for(joined.error());
    }
    // A single-writer store held by another run of this workspace: wait for it rather than
    // fail; that run may well finish this plan, and then this one finds nothing left to do.
    Result<void> opened = (*snk)->open(table);
    bool said = false;
    while (!opened && opened.error().kind == ErrorKind::transient && !interrupted) {
      if (!said) spdlog::warn("waiting: {}", opened.error().message);
      said = true;
      ::usleep(500'000);
      io.restart();
      io.poll();  // a signal meanwhile is handled here
      opened = (*snk)->open(table);
    }
    if (!opened) {
      spdlog::error(
          "{}", interrupted ? "interrupted while waiting for the store" : opened.error().message);
      return interrupted ? kInterrupted : exit_code_for(opened.error());
    }
    if (said) spdlog::info("the store is free: running plan {}", plan->name);
    engine::BackfillDeps deps{*plan, endpoint,     spec,  fetcher, **store,
                              **snk, store_thread, clock, stopping};
    result = {};
    asio::co_spawn(io, engine::run_backfill(deps, options),
                   [&](std::exception_ptr e, engine::BackfillResult r) {
                     if (e) std::rethrow_exception(e);
                     result = std::move(r);
                     io.stop();  // the signal wait stays armed for the next round
                   });
    if (!run_io()) return kInternal;
    progress.finish();
    if (!result.run.id.empty() && result.run.finished_at) {
      std::fputs(report::to_table(result.run).c_str(), stdout);
      std::fputs(report::sink_lines(spec.kind, result.sink_stats).c_str(), stdout);
      if (result.outcome == engine::Outcome::done && result.run.rows == 0)
        std::printf("nothing new: every task of plan %s was already landed\n", plan->name.c_str());
      std::fflush(stdout);
    }
    if (result.outcome != engine::Outcome::parked || !result.resume_at) break;
    const auto in = std::chrono::duration<double>(*result.resume_at - clock.now()).count();
    spdlog::warn("{}: {} tasks parked until {} (in {}); progress is saved", result.message,
                 result.parked, format_time(*result.resume_at),
                 report::format_duration(std::max(0.0, in)));
    if (args.no_wait || interrupted) {
      spdlog::info("run `finsync run {}` after that time to resume", plan->name);
      return kParked;
    }
    spdlog::info("waiting for the reset (Ctrl-C stops; a later `finsync run` resumes)");
    bool reset_reached = false;
    asio::co_spawn(io, wait_for_reset(*result.resume_at, clock, interrupted, progress),
                   [&](std::exception_ptr e, bool ok) {
                     if (e) std::rethrow_exception(e);
                     reset_reached = ok;
                     io.stop();
                   });
    if (!run_io()) return kInternal;
    progress.finish();
    if (!reset_reached) {
      spdlog::warn("interrupted while parked; progress is saved and the next run resumes");
      return kInterrupted;
    }
    spdlog::info("quota reset reached: resuming plan {}", plan->name);
    stopping = false;
  }
  signals.cancel();
  store_thread.join();
  ledger_thread.join();
  if (!result.message.empty()) {
    if (result.outcome == engine::Outcome::interrupted ||
        result.outcome == engine::Outcome::cancelled || result.outcome == engine::Outcome::paused)
      spdlog::warn("{}", result.message);
    else if (result.outcome == engine::Outcome::auth)
      spdlog::error(
          "provider {} refused the credentials: plan {} stopped at once; progress is saved and "
          "the next run carries on. {}. Check the value of {} (auth.value in {})",
          pdef.name, plan->name, result.message, pdef.auth.value.text, pdef.source);
    else
      spdlog::error("{}", result.message);
  }
  return exit_for(result.outcome);
}

}  // namespace finsync::app
