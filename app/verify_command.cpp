#include "app/verify_command.hpp"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>

#include "app/exit_codes.hpp"
#include "app/workspace_context.hpp"
#include "core/dates.hpp"
#include "engine/incremental.hpp"
#include "engine/metadata.hpp"
#include "engine/verify.hpp"

namespace finsync::app {

namespace asio = boost::asio;

namespace {

std::string range_text(const engine::DayRange& r) {
  if (r.first == r.last) return dates::iso(r.first);
  return fmt::format("{}..{}", dates::iso(r.first), dates::iso(r.last));
}

// The column the symbol parameter fills.
std::string symbol_column(const config::EndpointDef& ep) {
  for (const auto& c : ep.columns)
    if (c.name == ep.symbol_param || c.from_param == ep.symbol_param) return c.name;
  return {};
}

// Queues the fix tasks: new ones are added, one queued by an earlier `--fix` goes back to
// pending. Returns how many are queued.
Result<int64_t> queue_fixes(state::StateStore& store, const std::vector<state::Task>& fixes) {
  auto existing = store.list_tasks(fixes.empty() ? std::string() : fixes.front().plan);
  if (!existing) return fail(existing.error());
  std::unordered_map<std::string, state::Task*> by_id;
  for (auto& t : *existing) by_id[t.id] = &t;
  std::vector<state::Task> added;
  for (const auto& f : fixes) {
    auto it = by_id.find(f.id);
    if (it == by_id.end()) {
      added.push_back(f);
      continue;
    }
    state::Task& t = *it->second;
    t.state = state::TaskState::pending;
    t.attempts = 0;
    t.last_error.clear();
    t.resume_at.reset();
    if (auto u = store.update_task(t); !u) return fail(u.error());
  }
  if (auto n = store.add_tasks(added); !n) return fail(n.error());
  return int64_t(fixes.size());
}

}  // namespace

int run_verify(asio::io_context& io, const config::PlanDef& plan,
               const config::EndpointDef& endpoint, engine::Fetcher& fetcher,
               state::StateStore& store, sink::Sink& sink, const sink::TableSpec& table, bool fix) {
  if (endpoint.symbol_param.empty() || endpoint.time_column.empty()) {
    spdlog::error("plan {}: endpoint {} has no symbol parameter or time column to verify by",
                  plan.name, endpoint.name);
    return kConfig;
  }
  auto record = store.get_plan(plan.name);
  if (!record) {
    spdlog::error("{}", record.error().message);
    return exit_code_for(record.error());
  }
  if (!*record || (*record)->universe_json.empty()) {
    spdlog::error("plan {} has not run yet: nothing landed to verify (`finsync run {}` first)",
                  plan.name, plan.name);
    return kConfig;
  }
  auto universe = engine::universe_from_json((*record)->universe_json);
  if (!universe) {
    spdlog::error("{}", universe.error().message);
    return kInternal;
  }
  // Days not published yet are not expected.
  const int32_t last_day =
      plan.end_today ? std::min(plan.end_day, engine::day_clock(endpoint, Clock_t::now()).published)
                     : plan.end_day;
  Result<plan::TradingCalendar> cal = fail(ErrorKind::internal, "calendar not fetched");
  asio::co_spawn(io, engine::fetch_calendar(fetcher, plan.start_day, last_day),
                 [&](std::exception_ptr e, Result<plan::TradingCalendar> r) {
                   if (e) std::rethrow_exception(e);
                   cal = std::move(r);
                 });
  io.run();
  if (!cal) {
    spdlog::error("{}", cal.error().message);
    return exit_code_for(cal.error());
  }
  auto landed = sink.landed_days(table, symbol_column(endpoint));
  if (!landed) {
    spdlog::error("plan {}: {}", plan.name, landed.error().message);
    return exit_code_for(landed.error());
  }
  auto tasks = store.list_tasks(plan.name);
  if (!tasks) {
    spdlog::error("{}", tasks.error().message);
    return exit_code_for(tasks.error());
  }
  const engine::VerifyReport rep =
      engine::verify_landed(plan, *universe, *cal, last_day, *landed, *tasks);

  std::string out =
      fmt::format("plan {}: {} symbols, {}..{}, {} symbol-days expected\n", plan.name, rep.symbols,
                  dates::iso(rep.first_day), dates::iso(rep.last_day), rep.expected_days);
  for (const auto& c : rep.issues) {
    for (const auto& g : c.gaps)
      out += fmt::format("  {}  gap    {} ({} trading day{})\n", c.symbol, range_text(g), g.days,
                         g.days == 1 ? "" : "s");
    for (int32_t d : c.extra) out += fmt::format("  {}  extra  {}\n", c.symbol, dates::iso(d));
  }
  out += fmt::format("{} gap days, {} extra rows", rep.gap_days, rep.extra_rows);
  if (rep.confirmed_empty > 0)
    out += fmt::format(
        "; {} days fetched again by verify --fix and empty at the provider "
        "(suspensions)",
        rep.confirmed_empty);
  out += "\n";
  std::fputs(out.c_str(), stdout);
  if (fix && rep.gap_days > 0) {
    auto queued = queue_fixes(store, engine::fix_tasks(plan, endpoint, rep));
    if (!queued) {
      spdlog::error("{}", queued.error().message);
      return exit_code_for(queued.error());
    }
    std::printf("queued %lld tasks for the gaps; `finsync run %s` fetches them\n",
                static_cast<long long>(*queued), plan.name.c_str());
  }
  std::fflush(stdout);
  return rep.clean() ? kDone : kIncomplete;
}

}  // namespace finsync::app
