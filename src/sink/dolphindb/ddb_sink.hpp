#pragma once
// The dolphindb sink kind, over DolphinDB's API protocol (ddb_client.hpp). With `database:
// dfs://name` the table is a partitioned DFS table (OLAP, HASH-partitioned on the first key
// column) and the markers a dimension table of that database; without it both are shared
// in-memory tables (keyed on the endpoint's key in upsert and replace mode). Rows go as one
// table argument per batch_size piece to upsert!{table,,ignoreNull=false,keyColNames=...}
// (upsert, replace) or tableInsert{table} (append); the _finsync_landed markers follow the rows
// (DolphinDB has no transaction across two writes).
#include "sink/registry.hpp"

namespace finsync::sink::dolphindb {

void register_dolphindb_sink(SinkRegistry& registry);

}  // namespace finsync::sink::dolphindb
