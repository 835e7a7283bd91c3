#pragma once
// The postgres sink kind (libpq): rows are COPY'd (binary) into a temporary stage table, then
// merged into the target with INSERT ... ON CONFLICT DO UPDATE, in one transaction with the
// landed markers (and the checkpoints, when the state store is the same database).
#include <libpq-fe.h>

#include <functional>
#include <span>
#include <string>

#include "core/error.hpp"
#include "sink/registry.hpp"
#include "sink/sink.hpp"

namespace finsync::sink::postgres {

void register_postgres_sink(SinkRegistry& registry);

// Writes checkpoints on the sink's connection inside its open landing transaction.
using TaskWriter = std::function<Result<void>(PGconn* conn, std::span<const Checkpoint> cps)>;

// Whether two libpq DSNs (URI or keyword/value) name the same database: host, port and dbname
// after libpq's defaults (PGHOST, PGPORT, the user name). Unparsable: false.
bool same_database(const std::string& dsn_a, const std::string& dsn_b);

// Exactly-once: makes `sink`, a postgres sink, write each landing's checkpoints with `writer`
// inside the landing's transaction instead of calling Checkpoint::persist after it. False when
// `sink` is not a postgres sink.
bool set_task_writer(Sink& sink, TaskWriter writer);

}  // namespace finsync::sink::postgres
