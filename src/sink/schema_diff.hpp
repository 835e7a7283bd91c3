#pragma once
// Table shapes as a store describes them, and the exact difference between the shape a plan's
// schema needs and the one found: what `schema_drift: fail` stops with, what `evolve` adds, and
// what `finsync sinks check` prints.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sink/sink.hpp"

namespace finsync::sink {

struct ColumnShape {
  std::string name;
  std::string type;  // the store's type name, e.g. "DOUBLE PRECISION", "TEXT"
  bool nullable = true;
};

struct TableShape {
  std::vector<ColumnShape> columns;  // in table order
  std::vector<std::string> key;      // primary key (ClickHouse: order key) columns, in order
};

struct SchemaDiff {
  std::vector<ColumnShape> missing;  // the schema has them, the table does not
  std::vector<ColumnShape> extra;    // the table has them, the schema does not
  struct Changed {
    ColumnShape expected, found;
  };
  std::vector<Changed> changed;  // same name, other type or nullability
  bool key_differs = false;
  std::vector<std::string> key_expected, key_found;

  bool empty() const { return missing.empty() && extra.empty() && changed.empty() && !key_differs; }
  // One line per difference, e.g. "missing column vol DOUBLE PRECISION",
  // "column close: expected DOUBLE PRECISION NOT NULL, found TEXT".
  std::vector<std::string> lines() const;
};

// Store types compare with `same_type(expected, found)`; by default, case-insensitively.
using SameType = std::function<bool(std::string_view expected, std::string_view found)>;
bool same_type_ignoring_case(std::string_view expected, std::string_view found);

SchemaDiff diff_tables(const TableShape& expected, const TableShape& found,
                       const SameType& same_type = same_type_ignoring_case);

// What a schema_drift policy makes of a difference. fail: every line blocks. evolve: a missing
// non-key column is added (nullable); a missing key column, a NOT NULL extra column (rows could
// not be inserted), a changed type and a changed key still block.
struct DriftPlan {
  std::vector<std::string> blocking;
  std::vector<ColumnShape> add;
};
DriftPlan plan_drift(const SchemaDiff& diff, SchemaDrift policy,
                     const std::vector<std::string>& key);

// "(ts_code TEXT NOT NULL, trade_date DATE NOT NULL, close DOUBLE PRECISION)"
std::string describe(const std::vector<ColumnShape>& columns);

// Checks a table spec before a sink opens it: a name that is not reserved (_finsync_*), a
// non-empty schema with unique, non-reserved names, key columns in the schema, a key for upsert.
// `target` prefixes the messages ("postgres sink 127.0.0.1:5432/db table daily").
Result<void> validate_table(const TableSpec& table, WriteMode mode, std::string_view target);

}  // namespace finsync::sink
