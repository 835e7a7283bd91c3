#pragma once
// Internals of the PostgreSQL state store that tests need: the migration list and a way to leave
// a schema at an older version, as an older finsync would have.
#include <span>

#include "core/error.hpp"
#include "state/migration.hpp"
#include "state/state_store.hpp"

namespace finsync::state::detail {

// Same numbering as sqlite_migrations(); the SQL is PostgreSQL's.
std::span<const Migration> postgres_migrations();

// Creates (or migrates forward) the store in options.schema up to `version` exactly, then
// disconnects. 1 <= version <= latest. Returns the version the schema is at.
Result<int> migrate_postgres_state(const PostgresStateOptions& options, int version);

}  // namespace finsync::state::detail
