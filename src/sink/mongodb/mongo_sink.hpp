#pragma once
// The mongodb sink kind (libmongoc), a plugin of the database-sink framework (sink/db/):
// documents are upserted by the endpoint's primary key in bulk `update` commands (append mode:
// `insert`, a key already present is skipped), dates are BSON dates, the collection is created
// with a $jsonSchema validator and a unique index on the key, and the `_finsync_landed` markers
// are written after the rows, journaled. MongoDB has no multi-document transactions on a
// standalone server; docs/sinks.md ("MongoDB") says why re-landing after a crash is harmless.
#include <memory>

#include "sink/db/driver.hpp"
#include "sink/registry.hpp"

namespace finsync::sink::mongodb {

void register_mongodb_sink(SinkRegistry& registry);

// The driver alone, for tests: parses the dsn and applies the password; no I/O. A spec that
// still holds ${VAR}s (a plan checked without its environment) is parsed at connect().
Result<std::unique_ptr<db::Driver>> make_driver(const SinkSpec& spec);

}  // namespace finsync::sink::mongodb
