// `finsync sinks check PLAN`: connects to the plan's sink and says what it found. `finsync
// export PLAN`: rebuilds the plan's workbook from the staging store.
#include <cstdio>
#include <memory>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/sink_setup.hpp"
#include "core/secrets.hpp"
#include "engine/backfill.hpp"
#include "sink/excel/excel_sink.hpp"

namespace finsync::app {

namespace {

// The plan's sink, created from the registry (not opened), and the table it lands.
struct PlanSink {
  std::unique_ptr<sink::Sink> sink;
  sink::TableSpec table;
};

// An exit code when the plan or its sink cannot be set up.
std::variant<PlanSink, int> plan_sink(const GlobalOptions& g, const std::string& plan_ref) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto plan = resolve_plan(ctx, plan_ref);
  if (!plan) {
    spdlog::error("{}", plan.error().message);
    return exit_code_for(plan.error());
  }
  if (auto ok = check_plan(ctx, *plan); !ok) {
    spdlog::error("{}", ok.error().message);
    return kConfig;
  }
  const config::EndpointDef& endpoint = *ctx.catalog.find(plan->provider)->endpoint(plan->endpoint);
  auto spec = make_sink_spec(*plan, /*expand=*/true);
  if (!spec) {
    spdlog::error("{}", spec.error().message);
    return kConfig;
  }
  sink::SinkRegistry sinks;
  sink::register_builtin_sinks(sinks);
  auto snk = sinks.create(*spec, sink_context(ctx));
  if (!snk) {
    spdlog::error("{}", snk.error().message);
    return exit_code_for(snk.error());
  }
  return PlanSink{std::move(*snk),
                  sink::TableSpec{engine::landing_key(*plan), spec->table, endpoint.schema(),
                                  endpoint.primary_key, endpoint.time_column, spec->mode}};
}

}  // namespace

int cmd_sinks_check(const GlobalOptions& g, const std::string& plan_ref) {
  auto ps = plan_sink(g, plan_ref);
  if (const int* rc = std::get_if<int>(&ps)) return *rc;
  auto& [snk, table] = std::get<PlanSink>(ps);
  auto found = snk->check(table);
  if (!found) {
    spdlog::error("{}", secrets::mask(found.error().message));
    return exit_code_for(found.error());
  }
  std::string out = fmt::format("sink {}\n", secrets::mask(found->store));
  auto line = [&](std::string_view k, const std::string& v) {
    out += fmt::format("  {:<9} {}\n", k, v);
  };
  line("server", found->server);
  line("table", found->table_exists
                    ? fmt::format("{} exists", table.table)
                    : fmt::format("{} does not exist: the first run creates it", table.table));
  if (found->table_exists && found->differences.empty())
    line("columns", fmt::format("match the plan's schema ({} columns, primary key ({}))",
                                table.schema.fields.size(), fmt::join(table.primary_key, ", ")));
  if (!found->differences.empty()) {
    line("columns", "differ from the plan's schema:");
    for (const auto& d : found->differences) out += fmt::format("    {}\n", d);
  }
  for (const auto& n : found->notes) line("note", n);
  std::fputs(secrets::mask(out).c_str(), stdout);
  return found->differences.empty() ? kDone : kConfig;
}

int cmd_export(const GlobalOptions& g, const std::string& plan_ref) {
  auto ps = plan_sink(g, plan_ref);
  if (const int* rc = std::get_if<int>(&ps)) return *rc;
  auto& [snk, table] = std::get<PlanSink>(ps);
  if (auto opened = snk->open(table); !opened) {
    spdlog::error("{}", secrets::mask(opened.error().message));
    return exit_code_for(opened.error());
  }
  auto built = sink::excel::export_workbook(*snk);
  auto closed = snk->close();
  if (!built || !closed) {
    spdlog::error("{}", secrets::mask((!built ? built.error() : closed.error()).message));
    return exit_code_for(!built ? built.error() : closed.error());
  }
  std::printf("exported %s: %lld sheets\n", table.table.c_str(),
              static_cast<long long>(built->partitions_materialized));
  return kDone;
}

}  // namespace finsync::app
