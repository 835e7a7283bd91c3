#pragma once
// The rows the database sink tests land: every schema type, two key columns, a null in every
// other `vol`, timestamps with microseconds. Shared so each store is tested on the same data.
#include <string>

#include "core/dates.hpp"
#include "core/record_batch.hpp"
#include "sink/sink.hpp"

namespace finsync::sink::test {

inline Schema all_types() {
  return Schema{{{"sym", DataType::string},
                 {"day", DataType::date},
                 {"at", DataType::timestamp},
                 {"close", DataType::float64},
                 {"vol", DataType::int64},
                 {"ok", DataType::boolean}}};
}

inline TableSpec table_of(WriteMode mode = WriteMode::upsert, Schema schema = all_types()) {
  return TableSpec{"p#1", "bars", std::move(schema), {"sym", "day"}, "day", mode};
}

// n consecutive days from 2024-02-28 + first, close = base + i.
inline RecordBatch rows_of(const std::string& sym, int n, double base = 1.25, int first = 0) {
  RecordBatch b(all_types());
  const int32_t d0 = dates::days_from_civil(2024, 2, 28) + first;
  for (int i = 0; i < n; ++i) {
    b.column(0).append_string(sym);
    b.column(1).append_int(d0 + i);
    b.column(2).append_int((int64_t(d0 + i) * 86400 + 9 * 3600 + 30 * 60) * 1'000'000 + 123456);
    b.column(3).append_double(base + i);
    if (i % 2) {
      b.column(4).append_null();
    } else {
      b.column(4).append_int(1000 * i);
    }
    b.column(5).append_int(i % 2);
  }
  return b;
}

inline Checkpoint cp(const std::string& id, int64_t rows) {
  Checkpoint c;
  c.task_id = id;
  c.window = "20240228-20240302";
  c.rows = rows;
  return c;
}

}  // namespace finsync::sink::test
