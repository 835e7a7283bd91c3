#pragma once
// The clickhouse sink kind, over ClickHouse's HTTP interface (libcurl). Tables are
// ReplacingMergeTree ordered by the endpoint's key in every mode, so a row landed again (after a
// retry or a crash) replaces itself; reads use FINAL. Rows go as INSERT ... FORMAT RowBinary,
// one insert of at most 1,048,576 rows (one block, atomic) per batch_size piece; the
// _finsync_landed markers follow the rows. replace: table swaps partitions in from a stage table
// (ALTER TABLE ... REPLACE PARTITION), replace: partition deletes a task's rows by mutation.
// The SQL runs unchanged on ClickHouse 18.16 (Debian's server) and on current servers.
#include "sink/registry.hpp"

namespace finsync::sink::clickhouse {

void register_clickhouse_sink(SinkRegistry& registry);

}  // namespace finsync::sink::clickhouse
