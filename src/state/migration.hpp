#pragma once

namespace finsync::state::detail {

// One forward step of a state store schema. Every store kind numbers its steps 1, 2, 3, ...
// alike: version N means the same tables and columns in SQLite and PostgreSQL.
struct Migration {
  int version;          // the schema version this step produces; steps are 1, 2, 3, ...
  const char* summary;  // one line, for logs
  const char* sql;      // one or more statements, run in the same transaction as the version bump
};

}  // namespace finsync::state::detail
