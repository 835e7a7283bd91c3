// Every built-in sink kind, registered in one place. duckdb, parquet and csv stage rows in DuckDB
// (sink/staging_sink.hpp); the database kinds stand on the framework in sink/db/.
#include "sink/clickhouse/ch_sink.hpp"
#include "sink/dolphindb/ddb_sink.hpp"
#include "sink/excel/excel_sink.hpp"
#include "sink/mongodb/mongo_sink.hpp"
#include "sink/mysql/my_sink.hpp"
#include "sink/postgres/pg_sink.hpp"
#include "sink/registry.hpp"
#include "sink/sqlite/sqlite_sink.hpp"
#include "sink/staging_sink.hpp"

namespace finsync::sink {

namespace {

SinkFactory staging_factory(StagingKind kind) {
  return [kind](const SinkSpec& spec, const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
    auto s = make_staging_sink(kind, spec, ctx);
    if (!s) return fail(s.error());
    return std::unique_ptr<Sink>(std::move(*s));
  };
}

}  // namespace

void register_builtin_sinks(SinkRegistry& registry) {
  registry.add("duckdb", staging_factory(StagingKind::duckdb));
  registry.add("parquet", staging_factory(StagingKind::parquet));
  registry.add("csv", staging_factory(StagingKind::csv));
  sqlite::register_sqlite_sink(registry);
  postgres::register_postgres_sink(registry);
  mongodb::register_mongodb_sink(registry);
  mysql::register_mysql_sink(registry);
  excel::register_excel_sink(registry);
  clickhouse::register_clickhouse_sink(registry);
  dolphindb::register_dolphindb_sink(registry);
}

}  // namespace finsync::sink
