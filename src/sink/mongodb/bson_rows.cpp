#include "sink/mongodb/bson_rows.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/dates.hpp"

namespace finsync::sink::mongodb {

namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

int len(const std::string& s) {
  return static_cast<int>(s.size());
}

std::string micros_text(int64_t us) {
  const int64_t day = us >= 0 ? us / 86'400'000'000 : -((-us + 86'399'999'999) / 86'400'000'000);
  const int64_t rest = us - day * 86'400'000'000;
  return fmt::format("{}T{:02}:{:02}:{:02}.{:06}Z", dates::format(int32_t(day), "%Y-%m-%d"),
                     rest / 3'600'000'000, rest / 60'000'000 % 60, rest / 1'000'000 % 60,
                     rest % 1'000'000);
}

}  // namespace

const char* bson_type_name(DataType type) {
  switch (type) {
    case DataType::int64:
      return "long";
    case DataType::float64:
      return "double";
    case DataType::string:
      return "string";
    case DataType::date:
    case DataType::timestamp:
      return "date";
    case DataType::boolean:
      return "bool";
  }
  return "string";
}

Result<void> check_field_name(const std::string& name) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::invalid_input,
                fmt::format("column '{}' cannot be a MongoDB field: {}", name, why));
  };
  if (name.empty()) return bad("the name is empty");
  if (name == "_id") return bad("_id is the document id MongoDB assigns");
  if (name.front() == '$') return bad("a name starting with '$' is an operator");
  if (name.find('.') != std::string::npos)
    return bad("a '.' in a filter means a path into a sub-document");
  if (name.find('\0') != std::string::npos) return bad("it contains a NUL byte");
  return {};
}

Result<int64_t> timestamp_millis(int64_t micros, const std::string& column, size_t row_label) {
  if (micros % 1000 != 0)
    return fail(ErrorKind::invalid_input,
                fmt::format("row {}, column {}: timestamp {} has a sub-millisecond part, and a "
                            "BSON date holds milliseconds",
                            row_label, column, micros_text(micros)));
  return micros / 1000;
}

void append_property(bson_t* properties, const std::string& name, const char* bson_type,
                     bool nullable) {
  bson_t prop, types;
  bson_append_document_begin(properties, name.data(), len(name), &prop);
  if (nullable) {
    BSON_APPEND_ARRAY_BEGIN(&prop, "bsonType", &types);
    BSON_APPEND_UTF8(&types, "0", bson_type);
    BSON_APPEND_UTF8(&types, "1", "null");
    bson_append_array_end(&prop, &types);
  } else {
    BSON_APPEND_UTF8(&prop, "bsonType", bson_type);
  }
  bson_append_document_end(properties, &prop);
}

RowMapper::RowMapper(Schema schema, std::vector<std::string> key)
    : schema_(std::move(schema)), key_names_(std::move(key)) {
  is_key_.assign(schema_.fields.size(), false);
  for (const auto& k : key_names_) {
    const int i = schema_.index_of(k);
    if (i < 0) continue;  // validated by the framework before a mapper is built
    key_.push_back(static_cast<size_t>(i));
    is_key_[static_cast<size_t>(i)] = true;
  }
}

Result<void> RowMapper::append(const RecordBatch& batch, size_t c, size_t row, size_t row_label,
                               bson_t* out) const {
  const Field& f = schema_.fields[c];
  const Column& col = batch.column(c);
  if (!col.valid(row)) {
    if (is_key_[c])
      return fail(ErrorKind::invalid_input,
                  fmt::format("row {}, column {}: null in a key field", row_label, f.name));
    bson_append_null(out, f.name.data(), len(f.name));
    return {};
  }
  switch (f.type) {
    case DataType::int64:
      bson_append_int64(out, f.name.data(), len(f.name), col.int_at(row));
      break;
    case DataType::float64:
      bson_append_double(out, f.name.data(), len(f.name), col.double_at(row));
      break;
    case DataType::string: {
      const std::string& s = col.string_at(row);
      if (!bson_utf8_validate(s.data(), s.size(), /*allow_null=*/false))
        return fail(ErrorKind::invalid_input,
                    fmt::format("row {}, column {}: the text is not valid UTF-8 (or holds a NUL), "
                                "and a BSON string must be",
                                row_label, f.name));
      bson_append_utf8(out, f.name.data(), len(f.name), s.data(), static_cast<int>(s.size()));
      break;
    }
    case DataType::date:
      bson_append_date_time(out, f.name.data(), len(f.name), col.int_at(row) * kMillisPerDay);
      break;
    case DataType::timestamp: {
      auto ms = timestamp_millis(col.int_at(row), f.name, row_label);
      if (!ms) return fail(ms.error());
      bson_append_date_time(out, f.name.data(), len(f.name), *ms);
      break;
    }
    case DataType::boolean:
      bson_append_bool(out, f.name.data(), len(f.name), col.int_at(row) != 0);
      break;
  }
  return {};
}

Result<void> RowMapper::document(const RecordBatch& batch, size_t row, size_t row_label,
                                 bson_t* doc) const {
  for (size_t c = 0; c < schema_.fields.size(); ++c)
    if (auto r = append(batch, c, row, row_label, doc); !r) return r;
  return {};
}

Result<void> RowMapper::key_filter(const RecordBatch& batch, size_t row, size_t row_label,
                                   bson_t* filter) const {
  for (size_t c : key_)
    if (auto r = append(batch, c, row, row_label, filter); !r) return r;
  return {};
}

void RowMapper::index_keys(bson_t* out) const {
  for (size_t c : key_)
    bson_append_int32(out, schema_.fields[c].name.data(), len(schema_.fields[c].name), 1);
}

void RowMapper::json_schema(bson_t* out) const {
  BSON_APPEND_UTF8(out, "bsonType", "object");
  bson_t required, properties;
  BSON_APPEND_ARRAY_BEGIN(out, "required", &required);
  for (size_t i = 0; i < key_.size(); ++i) {
    const std::string idx = std::to_string(i);
    const std::string& name = schema_.fields[key_[i]].name;
    bson_append_utf8(&required, idx.c_str(), -1, name.data(), len(name));
  }
  bson_append_array_end(out, &required);
  BSON_APPEND_DOCUMENT_BEGIN(out, "properties", &properties);
  for (size_t c = 0; c < schema_.fields.size(); ++c)
    append_property(&properties, schema_.fields[c].name, bson_type_name(schema_.fields[c].type),
                    !is_key_[c]);
  bson_append_document_end(out, &properties);
}

}  // namespace finsync::sink::mongodb
