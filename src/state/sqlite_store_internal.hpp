#pragma once
// Internals of the SQLite state store that tests need: the migration list and a way to leave a
// database at an older schema version, as an older finsync would have.
#include <span>
#include <string>

#include "core/error.hpp"
#include "state/migration.hpp"

namespace finsync::state::detail {

// Ordered by version with no gaps. A released step is never edited: change the schema by
// appending a step (see docs/state.md).
std::span<const Migration> sqlite_migrations();

// The newest schema version this build knows.
int sqlite_schema_version_latest();

// Creates (or migrates forward) the SQLite state file at `path` up to `version` exactly, then
// closes it. 1 <= version <= latest. Returns the version the file is at.
Result<int> migrate_sqlite_state(const std::string& path, int version);

}  // namespace finsync::state::detail
