#pragma once
// The quota ledger on a SQLite connection of its own (internal to the state module).
#include <memory>

#include "ratelimit/ledger.hpp"
#include "state/sqlite_db.hpp"

namespace finsync::state {

std::unique_ptr<ratelimit::LedgerStore> make_sqlite_ledger(sqlite::Db db);

}  // namespace finsync::state
