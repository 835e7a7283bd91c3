#include "app/sink_setup.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/env.hpp"
#include "sink/postgres/pg_sink.hpp"
#include "state/pg_task_writer.hpp"

namespace finsync::app {

namespace {

Result<std::string> value(const config::RawValue& raw, bool expand, bool secret = false) {
  if (!expand) return raw.text;
  return config::expand_env(raw, secret);
}

}  // namespace

Result<sink::SinkSpec> make_sink_spec(const config::PlanDef& plan, bool expand) {
  const config::SinkDef& d = plan.sink;
  sink::SinkSpec spec;
  spec.kind = d.kind;
  spec.table = d.table;
  spec.mode = d.mode == "append"    ? sink::WriteMode::append
              : d.mode == "replace" ? sink::WriteMode::replace
                                    : sink::WriteMode::upsert;
  spec.replace =
      d.replace == "partition" ? sink::ReplaceScope::partition : sink::ReplaceScope::table;
  spec.partition_by = d.partition_by;
  spec.batch_size = d.batch_size;
  spec.schema_drift =
      d.schema_drift == "evolve" ? sink::SchemaDrift::evolve : sink::SchemaDrift::fail;
  spec.where = d.where;
  spec.block = d.block;
  if (!d.path.text.empty()) {
    auto v = value(d.path, expand);
    if (!v) return fail(v.error());
    spec.path = *v;
  }
  if (!d.dsn.text.empty()) {
    auto v = value(d.dsn, expand);
    if (!v) return fail(v.error());
    spec.dsn = *v;
  }
  if (!d.password.text.empty()) {
    auto v = value(d.password, expand, /*secret=*/true);
    if (!v) return fail(v.error());
    spec.password = *v;
  }
  for (const auto& [k, raw] : d.options) {
    auto v = value(raw, expand);
    if (!v) return fail(v.error());
    spec.options[k] = *v;
  }
  return spec;
}

sink::SinkContext sink_context(const Context& ctx) {
  return sink::SinkContext{ctx.workspace.data_dir, ctx.workspace.staging_path()};
}

Result<bool> join_state_store(const Context& ctx, const sink::SinkSpec& spec, sink::Sink& snk) {
  if (ctx.workspace.state_kind != "postgres" || spec.kind != "postgres") return false;
  auto state_dsn = config::expand_env(ctx.workspace.state_postgres.dsn);
  if (!state_dsn) return fail(state_dsn.error());
  if (!sink::postgres::same_database(*state_dsn, spec.dsn)) return false;
  const std::string schema = ctx.workspace.state_postgres.schema;
  bool wired = sink::postgres::set_task_writer(
      snk, [schema](PGconn* conn, std::span<const sink::Checkpoint> cps) -> Result<void> {
        for (const auto& cp : cps)
          if (cp.task != nullptr)
            if (auto r = state::update_task_on(conn, schema, *cp.task); !r) return r;
        return {};
      });
  if (wired)
    spdlog::info("the state store is in the sink's database: checkpoints commit with the rows");
  return wired;
}

}  // namespace finsync::app
