#include "app/workspace_context.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/sink_setup.hpp"
#include "config/env.hpp"
#include "config/yaml_reader.hpp"

namespace finsync::app {
namespace fs = std::filesystem;

int exit_code_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::invalid_input:
      return kConfig;
    case ErrorKind::auth:
      return kAuth;
    case ErrorKind::unreachable:
      return kUnreachable;
    case ErrorKind::quota_exhausted:
      return kParked;
    case ErrorKind::cancelled:
      return kInterrupted;
    default:
      return kInternal;
  }
}

int load_context(const GlobalOptions& g, Context& ctx) {
  std::string root = g.workspace;
  if (root.empty()) {
    const char* env = std::getenv("FINSYNC_WORKSPACE");
    root = env && *env ? env : ".";
  }
  auto w = config::load_workspace(root);
  if (!w) {
    spdlog::error("{}", w.error().message);
    return kConfig;
  }
  ctx.workspace = *w;
  auto c = config::load_catalog(ctx.workspace.providers_dir);
  if (!c) {
    spdlog::error("{}", c.error().message);
    return kConfig;
  }
  ctx.catalog = std::move(*c);
  for (const auto& name : ctx.catalog.overridden)
    spdlog::debug("provider {} is overridden by {}", name, ctx.catalog.providers[name].source);
  return kDone;
}

Result<std::unique_ptr<state::StateStore>> open_state_store(const Context& ctx, bool create) {
  const auto& w = ctx.workspace;
  if (w.state_kind == "postgres") {
    auto dsn = config::expand_env(w.state_postgres.dsn);
    if (!dsn) return tl::unexpected(dsn.error());
    state::PostgresStateOptions o;
    o.dsn = *dsn;
    if (!w.state_postgres.password.text.empty()) {
      auto password = config::expand_env(w.state_postgres.password, /*secret_field=*/true);
      if (!password) return tl::unexpected(password.error());
      o.password = *password;
    }
    o.schema = w.state_postgres.schema;
    o.create = create;
    return state::open_postgres_state(o);
  }
  std::error_code ec;
  if (!create && !fs::exists(w.state_path, ec))
    return fail(ErrorKind::not_found, w.state_path + " does not exist");
  return state::open_sqlite_state(w.state_path);
}

Result<config::PlanDef> resolve_plan(const Context& ctx, const std::string& ref) {
  std::error_code ec;
  if (fs::is_regular_file(ref, ec)) return config::load_plan_file(ref);
  for (const char* ext : {".yaml", ".yml"}) {
    fs::path p = fs::path(ctx.workspace.plans_dir) / (ref + ext);
    if (fs::is_regular_file(p, ec)) return config::load_plan_file(p.string());
  }
  // Looking a name up must not create a state store as a side effect.
  auto store = open_state_store(ctx, /*create=*/false);
  if (!store && store.error().kind != ErrorKind::not_found) return tl::unexpected(store.error());
  if (store) {
    auto rec = (*store)->get_plan(ref);
    if (rec && *rec)
      return config::parse_plan((*rec)->spec_yaml, fmt::format("plan '{}' (stored)", ref));
  }
  return fail(ErrorKind::invalid_input,
              fmt::format("plan '{}' not found: expected a plan file, a file in {}, or the name of "
                          "a plan that has run before",
                          ref, ctx.workspace.plans_dir));
}

Result<void> check_plan(const Context& ctx, const config::PlanDef& plan) {
  auto bad = [&](std::string msg) {
    return fail(ErrorKind::invalid_input, fmt::format("{}: {}", plan.source, msg));
  };
  const config::ProviderDef* p = ctx.catalog.find(plan.provider);
  if (p == nullptr) {
    std::vector<std::string> names;
    for (const auto& [n, _] : ctx.catalog.providers) names.push_back(n);
    std::string hint = config::closest_match(plan.provider, names);
    return bad(fmt::format("provider: value '{}' is not valid: expected one of {}{}", plan.provider,
                           fmt::join(names, ", "),
                           hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  const config::EndpointDef* ep = p->endpoint(plan.endpoint);
  if (ep == nullptr) {
    std::vector<std::string> names;
    for (const auto& [n, _] : p->endpoints) names.push_back(n);
    std::string hint = config::closest_match(plan.endpoint, names);
    return bad(fmt::format("endpoint: value '{}' is not valid: expected an endpoint of {} ({}){}",
                           plan.endpoint, p->name, fmt::join(names, ", "),
                           hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  if (!ep->symbol_param.empty() && plan.universe.symbols.empty() &&
      plan.universe.from_endpoint.empty())
    return bad(
        fmt::format("universe: endpoint {} takes a symbol ({}); expected universe.symbols "
                    "or universe.from",
                    ep->name, ep->symbol_param));
  if (!plan.universe.from_endpoint.empty()) {
    const config::EndpointDef* u = p->endpoint(plan.universe.from_endpoint);
    if (u == nullptr || !u->universe)
      return bad(
          fmt::format("universe.from: value '{}' is not valid: expected an endpoint of {} "
                      "that lists symbols (has a 'universe' section)",
                      plan.universe.from_endpoint, p->name));
  }
  {
    // The kind's factory checks its keys and values; nothing is opened, no ${VAR} expanded.
    auto spec = make_sink_spec(plan, /*expand=*/false);
    if (!spec) return fail(spec.error());
    sink::SinkRegistry sinks;
    sink::register_builtin_sinks(sinks);
    if (auto made = sinks.create(*spec, sink_context(ctx)); !made) return fail(made.error());
  }
  for (const auto& col : plan.sink.partition_by) {
    const bool is_col = std::any_of(ep->columns.begin(), ep->columns.end(),
                                    [&](const auto& c) { return c.name == col; });
    if (!is_col && !(col == "year" && !ep->time_column.empty()))
      return bad(
          fmt::format("sink.partition_by: value '{}' is not valid: expected a column of "
                      "{}, or year",
                      col, ep->name));
  }
  for (const auto& [k, _] : plan.params) {
    if (ep->param(k) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& pd : ep->params) names.push_back(pd.name);
    std::string hint = config::closest_match(k, names);
    return bad(fmt::format("params: '{}' is not a parameter of endpoint {}: expected one of {}{}",
                           k, ep->name, fmt::join(names, ", "),
                           hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  if (!plan.split_strategy.empty() && !ep->split.allows(plan.split_strategy))
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: value '{}' is not valid: expected auto or a strategy endpoint {} "
                            "declares ({})",
                            plan.split_strategy_where, plan.split_strategy, ep->name,
                            fmt::join(ep->split.strategies, ", ")));
  return {};
}

int load_checked_plan(const GlobalOptions& g, const std::string& ref, Context& ctx,
                      std::optional<config::PlanDef>& plan) {
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto p = resolve_plan(ctx, ref);
  if (!p) {
    spdlog::error("{}", p.error().message);
    return exit_code_for(p.error());
  }
  if (auto ok = check_plan(ctx, *p); !ok) {
    spdlog::error("{}", ok.error().message);
    return kConfig;
  }
  plan = std::move(*p);
  return kDone;
}

}  // namespace finsync::app
