// Lands three rows of every column type through the registered dolphindb sink, as the engine
// would (open, write, commit with one checkpoint, close), for the tests that check its bytes
// against the official client's and its values against the recorder's decoding:
// sym SYMBOL (key), day DATE (key), note STRING, at TIMESTAMP, px DOUBLE, qty LONG, flag BOOL,
// nulls in every non-key column of the second row.
//
//   ddb_typed_landing --dsn URL [--password P] [--database dfs://x] [--table T] [--mode M]
#include <cstdio>
#include <string>

#include "core/dates.hpp"
#include "sink/registry.hpp"

using namespace finsync;

int main(int argc, char** argv) {
  sink::SinkSpec spec;
  spec.kind = "dolphindb";
  spec.table = "typed";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dsn")
      spec.dsn = v;
    else if (k == "--password")
      spec.password = v;
    else if (k == "--database")
      spec.options["database"] = v;
    else if (k == "--table")
      spec.table = v;
    else if (k == "--mode")
      spec.mode = v == "append" ? sink::WriteMode::append : sink::WriteMode::upsert;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 64;
    }
  }
  sink::SinkRegistry registry;
  sink::register_builtin_sinks(registry);
  auto s = registry.create(spec, sink::SinkContext{".", ""});
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    return 1;
  }
  const Schema schema{{{"sym", DataType::string},
                       {"day", DataType::date},
                       {"note", DataType::string},
                       {"at", DataType::timestamp},
                       {"px", DataType::float64},
                       {"qty", DataType::int64},
                       {"flag", DataType::boolean}}};
  const sink::TableSpec t{"typed#1", spec.table, schema, {"sym", "day"}, "day", spec.mode};
  if (auto r = (*s)->open(t); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  RecordBatch b(schema);
  auto row = [&](const char* sym, int32_t day) {
    b.column(0).append_string(sym);
    b.column(1).append_int(day);
  };
  row("AAA", dates::days_from_civil(2024, 1, 2));
  b.column(2).append_string("first");
  b.column(3).append_int(1704187800123000);  // 2024-01-02T09:30:00.123Z
  b.column(4).append_double(10.5);
  b.column(5).append_int(100);
  b.column(6).append_int(1);
  row("BBB", dates::days_from_civil(1969, 12, 31));
  for (size_t c = 2; c < 7; ++c) b.column(c).append_null();
  row("AAA", dates::days_from_civil(2024, 1, 3));
  b.column(2).append_string("\xe6\x97\xa5\xe6\x9c\xac \"quoted\"");
  b.column(3).append_int(-1000);  // 1969-12-31T23:59:59.999Z
  b.column(4).append_double(-0.25);
  b.column(5).append_int(-5);
  b.column(6).append_int(0);
  if (auto r = (*s)->write(b); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  sink::Checkpoint cp;
  cp.task_id = "typed/AAA";
  cp.window = "20240101-20240131";
  cp.rows = 3;
  cp.persist = [] { return Result<void>{}; };
  if (auto r = (*s)->commit(cp); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  auto st = (*s)->close();
  if (!st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return 1;
  }
  std::printf("landed 3 rows in %lld commit(s)\n", static_cast<long long>(st->commits));
  return 0;
}
