#pragma once
// Rows of a RecordBatch as BSON documents (docs/sinks.md, "MongoDB"): one document per row with
// every schema field in schema order, no `_id` (the server assigns an ObjectId once and an
// upsert keeps it), typed as
//
//   int64 -> long (int64)      float64 -> double        string -> string (UTF-8, checked)
//   date -> date (UTC midnight, ms)   timestamp -> date (ms; a sub-millisecond part is rejected)
//   boolean -> bool            an invalid cell -> null (never in a key field)
//
// The mapper is built once per table, so the per-row loop only appends.
#include <bson/bson.h>

#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/record_batch.hpp"

namespace finsync::sink::mongodb {

// The BSON type alias ($type / $jsonSchema bsonType) a column is stored as.
const char* bson_type_name(DataType type);

// Field names a document can carry and a filter can name: not empty, no '.', not starting with
// '$', no NUL, not `_id` (the server's own). invalid_input naming the column otherwise.
Result<void> check_field_name(const std::string& name);

// Appends {name: {bsonType: type}} to a $jsonSchema's properties, or [type, "null"] when
// `nullable`.
void append_property(bson_t* properties, const std::string& name, const char* bson_type,
                     bool nullable);

class RowMapper {
 public:
  // `key`: the primary key, each in `schema`.
  RowMapper(Schema schema, std::vector<std::string> key);

  const Schema& schema() const { return schema_; }
  const std::vector<std::string>& key() const { return key_names_; }

  // Appends row `row` of `batch` (whose schema is this mapper's) to `doc`: every field.
  // invalid_input for a value BSON cannot hold exactly; `row_label` numbers the row in messages.
  Result<void> document(const RecordBatch& batch, size_t row, size_t row_label, bson_t* doc) const;
  // Appends the key fields of `row` to `filter`, in key order ({ts_code: .., trade_date: ..}).
  Result<void> key_filter(const RecordBatch& batch, size_t row, size_t row_label,
                          bson_t* filter) const;
  // {k1: 1, k2: 1}: the unique index's key pattern.
  void index_keys(bson_t* out) const;
  // {bsonType: "object", required: [key...], properties: {f: {bsonType: t | [t, "null"]}}}.
  void json_schema(bson_t* out) const;

 private:
  Result<void> append(const RecordBatch& batch, size_t col, size_t row, size_t row_label,
                      bson_t* out) const;

  Schema schema_;
  std::vector<std::string> key_names_;
  std::vector<size_t> key_;   // schema index of each key field
  std::vector<bool> is_key_;  // per schema field
};

// Milliseconds for a timestamp (µs), or invalid_input when it has a sub-millisecond part.
Result<int64_t> timestamp_millis(int64_t micros, const std::string& column, size_t row_label);

}  // namespace finsync::sink::mongodb
