#pragma once
// The sqlite sink kind (SQLite3, WAL): each landing is one transaction of prepared
// INSERT ... ON CONFLICT DO UPDATE statements. One writer at a time.
#include "sink/registry.hpp"

namespace finsync::sink::sqlite {

void register_sqlite_sink(SinkRegistry& registry);

}  // namespace finsync::sink::sqlite
