// The built-in sinks: duckdb, parquet and csv all stage rows in DuckDB (see staging_sink.hpp).
#include "sink/registry.hpp"
#include "sink/staging_sink.hpp"

namespace finsync::sink {

namespace {

SinkFactory factory_for(StagingKind kind) {
  return [kind](const SinkSpec& spec, const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
    auto s = make_staging_sink(kind, spec, ctx);
    if (!s) return fail(s.error());
    return std::unique_ptr<Sink>(std::move(*s));
  };
}

}  // namespace

void register_builtin_sinks(SinkRegistry& registry) {
  registry.add("duckdb", factory_for(StagingKind::duckdb));
  registry.add("parquet", factory_for(StagingKind::parquet));
  registry.add("csv", factory_for(StagingKind::csv));
}

}  // namespace finsync::sink
