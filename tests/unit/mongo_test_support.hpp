#pragma once
// Shared by the mongodb sink tests: a bars schema with every type, rows, and decoded commands.
#include <nlohmann/json.hpp>

#include <string>

#include "core/record_batch.hpp"
#include "mongo_recorder.hpp"
#include "sink/db/driver.hpp"
#include "sink/mongodb/bson_rows.hpp"

namespace finsync::sink::mongodb::test {

using json = nlohmann::ordered_json;
using testing::MongoRecorder;
using testing::RecordedCommand;

constexpr int32_t kJan2 = 19724;  // 2024-01-02, 1704153600000 ms

inline Schema bars_schema() {
  return Schema{{{"ts_code", DataType::string},
                 {"trade_date", DataType::date},
                 {"close", DataType::float64},
                 {"vol", DataType::int64},
                 {"ts", DataType::timestamp},
                 {"halted", DataType::boolean}}};
}

inline db::TableDesign bars_design(WriteMode mode = WriteMode::upsert) {
  db::TableDesign t;
  t.name = "daily";
  t.schema = bars_schema();
  for (const auto& f : t.schema.fields) t.types.push_back(bson_type_name(f.type));
  t.key = {"ts_code", "trade_date"};
  t.unique_key = mode != WriteMode::append;
  t.time_column = "trade_date";
  t.mode = mode;
  return t;
}

// Three rows with every type, nulls in non-key fields.
inline RecordBatch three_rows() {
  RecordBatch b(bars_schema());
  auto& code = b.column(0);
  auto& day = b.column(1);
  auto& close = b.column(2);
  auto& vol = b.column(3);
  auto& ts = b.column(4);
  auto& halted = b.column(5);
  code.append_string("000001.SZ");
  day.append_int(kJan2);
  close.append_double(10.5);
  vol.append_int(1200);
  ts.append_int(1704186000000000);  // 2024-01-02T09:00:00Z
  halted.append_int(0);
  code.append_string("000002.SZ");
  day.append_int(kJan2);
  close.append_null();
  vol.append_int(0);
  ts.append_int(1704186000123000);  // .123
  halted.append_int(1);
  code.append_string("600000.SH");
  day.append_int(kJan2 + 1);
  close.append_double(7.25);
  vol.append_int(-5);
  ts.append_null();
  halted.append_null();
  return b;
}

inline RecordBatch many_rows(size_t n) {
  RecordBatch b(bars_schema());
  for (size_t i = 0; i < n; ++i) {
    b.column(0).append_string("S" + std::to_string(i % 1000));
    b.column(1).append_int(kJan2 + int64_t(i / 1000));
    b.column(2).append_double(double(i) / 4);
    b.column(3).append_int(int64_t(i));
    b.column(4).append_int(1704186000000000 + int64_t(i) * 1000);
    b.column(5).append_int(int64_t(i % 2));
  }
  return b;
}

inline json body(const RecordedCommand& c) {
  return json::parse(c.json);
}

inline SinkSpec spec_for(const MongoRecorder& rec, const std::string& query = "") {
  SinkSpec s;
  s.kind = "mongodb";
  s.dsn = rec.uri("market") + query;
  return s;
}

}  // namespace finsync::sink::mongodb::test
