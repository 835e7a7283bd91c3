#pragma once
// The mysql sink kind (also registered as mariadb), over MariaDB Connector/C: InnoDB tables,
// one transaction per landing with its _finsync_landed markers. Rows go by LOAD DATA LOCAL
// INFILE streamed from memory (load: infile, the default; REPLACE INTO the table, or into a
// stage table merged with INSERT ... SELECT ... ON DUPLICATE KEY UPDATE when the table has
// columns the plan does not write) or by multi-row INSERT ... ON DUPLICATE KEY UPDATE (load:
// insert, for servers that refuse LOCAL INFILE).
#include "sink/registry.hpp"

namespace finsync::sink::mysql {

void register_mysql_sink(SinkRegistry& registry);

}  // namespace finsync::sink::mysql
