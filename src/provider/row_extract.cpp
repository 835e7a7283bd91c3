#include "provider/row_extract.hpp"

#include <charconv>
#include <unordered_map>

#include <fmt/format.h>

#include "core/dates.hpp"

namespace finsync::provider {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string json_pointer(std::string_view path) {
  std::string out;
  if (!path.empty() && path[0] == '$') path.remove_prefix(1);
  for (char c : path) out += c == '.' ? '/' : c;
  return out;
}

namespace {

std::string scalar_text(element v) {
  switch (v.type()) {
    case element_type::STRING:
      return std::string(v.get_string().value());
    case element_type::INT64:
      return std::to_string(v.get_int64().value());
    case element_type::UINT64:
      return std::to_string(v.get_uint64().value());
    case element_type::DOUBLE:
      return fmt::format("{}", v.get_double().value());
    case element_type::BOOL:
      return v.get_bool().value() ? "true" : "false";
    default:
      return "";
  }
}

Result<void> conversion_error(const config::ColumnDef& def, std::string_view text) {
  return fail(ErrorKind::permanent,
              fmt::format("column {}: value '{}' is not valid: expected {}{}", def.name, text,
                          to_string(def.type),
                          def.format.empty() ? "" : fmt::format(" in format {}", def.format)));
}

// Timestamps are stored in microseconds; vendors send seconds or milliseconds.
int64_t timestamp_scale(const config::ColumnDef& def) {
  if (def.format == "epoch_ms") return 1000;
  if (def.format == "epoch_s") return 1000000;
  return 1;
}

}  // namespace

Result<void> append_text(Column& col, const config::ColumnDef& def, std::string_view s) {
  if (def.type == DataType::string) {
    col.append_string(s);
    return {};
  }
  // Vendors write a missing number or date as an empty field or as null (Alpha Vantage CSV).
  if (s.empty() || s == "null") {
    col.append_null();
    return {};
  }
  switch (def.type) {
    case DataType::float64: {
      double d = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec != std::errc() || p != s.data() + s.size()) return conversion_error(def, s);
      col.append_double(d);
      return {};
    }
    case DataType::int64:
    case DataType::timestamp: {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec != std::errc() || p != s.data() + s.size()) return conversion_error(def, s);
      col.append_int(def.type == DataType::timestamp ? i * timestamp_scale(def) : i);
      return {};
    }
    case DataType::date: {
      auto d = dates::parse(s, def.format);
      if (!d) return conversion_error(def, s);
      col.append_int(*d);
      return {};
    }
    case DataType::boolean:
      if (s == "true" || s == "1")
        col.append_int(1);
      else if (s == "false" || s == "0")
        col.append_int(0);
      else
        return conversion_error(def, s);
      return {};
    case DataType::string:
      break;
  }
  return conversion_error(def, s);
}

namespace {

// Appends one JSON value to a column of the declared type; a value that cannot be converted is
// an error naming the column and the value.
Result<void> append_value(Column& col, const config::ColumnDef& def, element v) {
  const element_type t = v.type();
  if (t == element_type::NULL_VALUE) {
    col.append_null();
    return {};
  }
  if (t == element_type::STRING) return append_text(col, def, v.get_string().value());
  auto bad = [&]() { return conversion_error(def, scalar_text(v)); };
  switch (def.type) {
    case DataType::string:
      col.append_string(scalar_text(v));
      return {};
    case DataType::float64:
      if (t == element_type::DOUBLE)
        col.append_double(v.get_double().value());
      else if (t == element_type::INT64)
        col.append_double(double(v.get_int64().value()));
      else if (t == element_type::UINT64)
        col.append_double(double(v.get_uint64().value()));
      else
        return bad();
      return {};
    case DataType::int64:
    case DataType::timestamp: {
      int64_t i = 0;
      if (t == element_type::INT64)
        i = v.get_int64().value();
      else if (t == element_type::UINT64)
        i = int64_t(v.get_uint64().value());
      else if (t == element_type::DOUBLE)
        i = int64_t(v.get_double().value());
      else
        return bad();
      col.append_int(def.type == DataType::timestamp ? i * timestamp_scale(def) : i);
      return {};
    }
    case DataType::date:
      if (t == element_type::INT64 || t == element_type::UINT64)
        return append_text(col, def, scalar_text(v));
      return bad();
    case DataType::boolean:
      if (t == element_type::BOOL)
        col.append_int(v.get_bool().value() ? 1 : 0);
      else if (t == element_type::INT64)
        col.append_int(v.get_int64().value() != 0);
      else
        return bad();
      return {};
  }
  return bad();
}

// Tracks which columns a row filled; the rest get the request parameter they come from, or null.
class RowFill {
 public:
  RowFill(const std::vector<config::ColumnDef>& columns, const ParamValues& params)
      : columns_(columns), filled_(columns.size(), 0) {
    for (const auto& c : columns) {
      const std::string* v = nullptr;
      for (const auto& [k, value] : params)
        if (!c.from_param.empty() && k == c.from_param) v = &value;
      constants_.push_back(v);
    }
  }

  Result<void> set(RecordBatch& batch, size_t c, element v) {
    if (filled_[c]) return {};
    filled_[c] = 1;
    return append_value(batch.column(c), columns_[c], v);
  }
  Result<void> set_text(RecordBatch& batch, size_t c, std::string_view v) {
    if (filled_[c]) return {};
    filled_[c] = 1;
    return append_text(batch.column(c), columns_[c], v);
  }
  Result<void> end_row(RecordBatch& batch) {
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (filled_[c]) {
        filled_[c] = 0;
      } else if (constants_[c] != nullptr) {
        if (auto r = append_text(batch.column(c), columns_[c], *constants_[c]); !r) return r;
      } else {
        batch.column(c).append_null();
      }
    }
    return {};
  }

 private:
  const std::vector<config::ColumnDef>& columns_;
  std::vector<char> filled_;
  std::vector<const std::string*> constants_;
};

// Response name -> column index: the rename map first, then same-named columns. The views
// point into the definition, which outlives every extraction.
std::unordered_map<std::string_view, size_t> name_index(
    const config::RowsDef& rows, const std::vector<config::ColumnDef>& columns) {
  std::unordered_map<std::string_view, size_t> index;
  for (size_t c = 0; c < columns.size(); ++c) index.emplace(columns[c].name, c);
  for (const auto& [from, to] : rows.rename) {
    for (size_t c = 0; c < columns.size(); ++c)
      if (columns[c].name == to) index[from] = c;
  }
  return index;
}

Result<element> at_path(element root, const std::string& path, std::string_view what) {
  element out;
  if (root.at_pointer(json_pointer(path)).get(out) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("response has no {} at {}", what, path));
  return out;
}

Result<RecordBatch> extract_fields_items(const config::RowsDef& rows,
                                         const std::vector<config::ColumnDef>& columns,
                                         RecordBatch batch, element root, RowFill& fill) {
  auto fields = at_path(root, rows.fields, "field list");
  if (!fields) return fail(fields.error());
  auto items = at_path(root, rows.items, "rows");
  if (!items) return fail(items.error());
  simdjson::dom::array field_arr, item_arr;
  if (fields->get_array().get(field_arr) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an array", rows.fields));
  if (items->get_array().get(item_arr) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an array", rows.items));
  // Response position -> batch column (-1: not asked for).
  std::vector<int> map;
  for (element f : field_arr) {
    std::string_view name;
    int idx = -1;
    if (f.get_string().get(name) == simdjson::SUCCESS) idx = batch.schema().index_of(name);
    map.push_back(idx);
  }
  for (size_t c = 0; c < columns.size(); ++c) batch.column(c).reserve(item_arr.size());
  for (element item : item_arr) {
    simdjson::dom::array cells;
    if (item.get_array().get(cells) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent, fmt::format("a row in {} is not an array", rows.items));
    size_t j = 0;
    for (element cell : cells) {
      if (j < map.size() && map[j] >= 0)
        if (auto r = fill.set(batch, size_t(map[j]), cell); !r) return fail(r.error());
      ++j;
    }
    if (j != map.size())
      return fail(ErrorKind::permanent, fmt::format("a row in {} has {} values for {} fields",
                                                    rows.items, j, map.size()));
    if (auto r = fill.end_row(batch); !r) return fail(r.error());
  }
  return batch;
}

Result<RecordBatch> extract_objects(const config::RowsDef& rows,
                                    const std::vector<config::ColumnDef>& columns,
                                    RecordBatch batch, element root, RowFill& fill) {
  // Polygon leaves `results` out of an empty answer; error answers were classified before.
  auto items = at_path(root, rows.items, "rows");
  if (!items || items->type() == element_type::NULL_VALUE) return batch;
  simdjson::dom::array arr;
  if (items->get_array().get(arr) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an array", rows.items));
  const auto index = name_index(rows, columns);
  for (size_t c = 0; c < columns.size(); ++c) batch.column(c).reserve(arr.size());
  for (element item : arr) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent, fmt::format("a row in {} is not an object", rows.items));
    for (auto field : obj) {
      auto it = index.find(field.key);
      if (it == index.end()) continue;
      if (auto r = fill.set(batch, it->second, field.value); !r) return fail(r.error());
    }
    if (auto r = fill.end_row(batch); !r) return fail(r.error());
  }
  return batch;
}

Result<RecordBatch> extract_keyed_object(const config::RowsDef& rows,
                                         const std::vector<config::ColumnDef>& columns,
                                         RecordBatch batch, element root, RowFill& fill) {
  auto items = at_path(root, rows.items, "rows");
  if (!items) return fail(items.error());
  simdjson::dom::object outer;
  if (items->get_object().get(outer) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an object", rows.items));
  const auto index = name_index(rows, columns);
  const int key_col = batch.schema().index_of(rows.key_column);
  if (key_col < 0)
    return fail(ErrorKind::invalid_input,
                fmt::format("key_column {} is not a column", rows.key_column));
  for (auto entry : outer) {
    simdjson::dom::object obj;
    if (entry.value.get_object().get(obj) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent,
                  fmt::format("the row {} in {} is not an object", entry.key, rows.items));
    if (auto r = fill.set_text(batch, size_t(key_col), entry.key); !r) return fail(r.error());
    for (auto field : obj) {
      auto it = index.find(field.key);
      if (it == index.end()) continue;
      if (auto r = fill.set(batch, it->second, field.value); !r) return fail(r.error());
    }
    if (auto r = fill.end_row(batch); !r) return fail(r.error());
  }
  return batch;
}

Result<RecordBatch> extract_arrays(const config::RowsDef& rows,
                                   const std::vector<config::ColumnDef>& columns, RecordBatch batch,
                                   element root, RowFill& fill) {
  auto items = at_path(root, rows.items, "rows");
  if (!items) return fail(items.error());
  simdjson::dom::array arr;
  if (items->get_array().get(arr) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an array", rows.items));
  std::vector<int> map;
  for (const auto& name : rows.positions)
    map.push_back(name.empty() ? -1 : batch.schema().index_of(name));
  for (size_t c = 0; c < columns.size(); ++c) batch.column(c).reserve(arr.size());
  for (element item : arr) {
    simdjson::dom::array cells;
    if (item.get_array().get(cells) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent, fmt::format("a row in {} is not an array", rows.items));
    size_t j = 0;
    for (element cell : cells) {
      if (j < map.size() && map[j] >= 0)
        if (auto r = fill.set(batch, size_t(map[j]), cell); !r) return fail(r.error());
      ++j;
    }
    if (j < map.size())
      return fail(ErrorKind::permanent,
                  fmt::format("a row in {} has {} values for {} declared positions", rows.items, j,
                              map.size()));
    if (auto r = fill.end_row(batch); !r) return fail(r.error());
  }
  return batch;
}

// One CSV record (RFC 4180 quoting); `pos` moves past its line end.
std::vector<std::string> csv_record(std::string_view text, size_t& pos) {
  std::vector<std::string> out(1);
  bool quoted = false;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"' && pos < text.size() && text[pos] == '"') {
        out.back() += '"';
        ++pos;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      out.back() += c;
    }
  }
  return out;
}

Schema schema_of(const std::vector<config::ColumnDef>& columns) {
  Schema schema;
  for (const auto& c : columns) schema.fields.push_back(Field{c.name, c.type});
  return schema;
}

}  // namespace

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns, element root,
                                 const ParamValues& params) {
  RecordBatch batch(schema_of(columns));
  RowFill fill(columns, params);
  if (rows.kind == "fields_items")
    return extract_fields_items(rows, columns, std::move(batch), root, fill);
  if (rows.kind == "keyed_object")
    return extract_keyed_object(rows, columns, std::move(batch), root, fill);
  if (rows.kind == "arrays") return extract_arrays(rows, columns, std::move(batch), root, fill);
  return extract_objects(rows, columns, std::move(batch), root, fill);
}

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 std::string_view body, simdjson::dom::parser& parser,
                                 const ParamValues& params) {
  if (rows.kind == "csv") return extract_csv(rows, columns, body, params);
  element root;
  auto err = parser.parse(body.data(), body.size(), true).get(root);
  if (err)
    return fail(ErrorKind::transient,
                fmt::format("response is not valid JSON ({})", simdjson::error_message(err)));
  return extract_rows(rows, columns, root, params);
}

Result<RecordBatch> extract_csv(const config::RowsDef& rows,
                                const std::vector<config::ColumnDef>& columns,
                                std::string_view body, const ParamValues& params) {
  RecordBatch batch(schema_of(columns));
  RowFill fill(columns, params);
  size_t pos = 0;
  if (body.empty()) return batch;
  const auto header = csv_record(body, pos);
  const auto index = name_index(rows, columns);
  std::vector<int> map;
  for (const auto& h : header) {
    auto it = index.find(std::string_view(h));
    map.push_back(it == index.end() ? -1 : int(it->second));
  }
  while (pos < body.size()) {
    const auto cells = csv_record(body, pos);
    if (cells.size() == 1 && cells[0].empty()) continue;  // blank line
    if (cells.size() != header.size())
      return fail(ErrorKind::permanent, fmt::format("a CSV row has {} fields for {} header names",
                                                    cells.size(), header.size()));
    for (size_t j = 0; j < cells.size(); ++j)
      if (map[j] >= 0)
        if (auto r = fill.set_text(batch, size_t(map[j]), cells[j]); !r) return fail(r.error());
    if (auto r = fill.end_row(batch); !r) return fail(r.error());
  }
  return batch;
}

}  // namespace finsync::provider
