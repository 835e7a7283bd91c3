#pragma once
// The quota ledger on a PostgreSQL connection of its own (internal to the state module).
#include <memory>

#include "ratelimit/ledger.hpp"
#include "state/pg_conn.hpp"

namespace finsync::state {

std::unique_ptr<ratelimit::LedgerStore> make_pg_ledger(pg::Conn conn);

}  // namespace finsync::state
