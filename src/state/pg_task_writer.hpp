#pragma once
// Exactly-once landing with the PostgreSQL state store: a sink that lands rows in the database
// of the state store writes the task's checkpoint inside its own landing transaction with this,
// the same UPDATE update_task runs, so rows, markers and the checkpoint commit together.
#include <libpq-fe.h>

#include <string>

#include "core/error.hpp"
#include "state/task.hpp"

namespace finsync::state {

// Runs inside the caller's open transaction on `conn` (it does not BEGIN or COMMIT). `schema` is
// the state store's schema (PostgresStateOptions::schema). not_found when the task is not in it.
Result<void> update_task_on(PGconn* conn, const std::string& schema, const Task& task);

}  // namespace finsync::state
