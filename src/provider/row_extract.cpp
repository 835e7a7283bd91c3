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

// Appends one JSON value to a column of the declared type; a value that cannot be converted is
// an error naming the column and the value.
Result<void> append_value(Column& col, const config::ColumnDef& def, element v) {
  const element_type t = v.type();
  if (t == element_type::NULL_VALUE) {
    col.append_null();
    return {};
  }
  auto bad = [&]() {
    return fail(ErrorKind::permanent,
                fmt::format("column {}: value '{}' is not valid: expected {}{}", def.name,
                            scalar_text(v), to_string(def.type),
                            def.format.empty() ? "" : fmt::format(" in format {}", def.format)));
  };
  switch (def.type) {
    case DataType::string:
      if (t == element_type::STRING)
        col.append_string(v.get_string().value());
      else
        col.append_string(scalar_text(v));
      return {};
    case DataType::float64:
      if (t == element_type::DOUBLE)
        col.append_double(v.get_double().value());
      else if (t == element_type::INT64)
        col.append_double(double(v.get_int64().value()));
      else if (t == element_type::UINT64)
        col.append_double(double(v.get_uint64().value()));
      else if (t == element_type::STRING) {
        std::string_view s = v.get_string().value();
        if (s.empty()) {
          col.append_null();
          return {};
        }
        double d = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc() || p != s.data() + s.size()) return bad();
        col.append_double(d);
      } else {
        return bad();
      }
      return {};
    case DataType::int64:
    case DataType::timestamp:
      if (t == element_type::INT64)
        col.append_int(v.get_int64().value());
      else if (t == element_type::UINT64)
        col.append_int(int64_t(v.get_uint64().value()));
      else if (t == element_type::DOUBLE)
        col.append_int(int64_t(v.get_double().value()));
      else if (t == element_type::STRING) {
        std::string_view s = v.get_string().value();
        int64_t i = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (ec != std::errc() || p != s.data() + s.size()) return bad();
        col.append_int(i);
      } else {
        return bad();
      }
      return {};
    case DataType::date: {
      std::string text;
      std::string_view s;
      if (t == element_type::STRING) {
        s = v.get_string().value();
      } else if (t == element_type::INT64 || t == element_type::UINT64) {
        text = scalar_text(v);
        s = text;
      } else {
        return bad();
      }
      if (s.empty()) {
        col.append_null();
        return {};
      }
      auto d = dates::parse(s, def.format);
      if (!d) return bad();
      col.append_int(*d);
      return {};
    }
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

Result<element> at_path(element root, const std::string& path, std::string_view what) {
  element out;
  if (root.at_pointer(json_pointer(path)).get(out) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("response has no {} at {}", what, path));
  return out;
}

Result<RecordBatch> extract_fields_items(const config::RowsDef& rows,
                                         const std::vector<config::ColumnDef>& columns,
                                         RecordBatch batch, element root) {
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
  std::vector<bool> present(columns.size(), false);
  for (element f : field_arr) {
    std::string_view name;
    int idx = -1;
    if (f.get_string().get(name) == simdjson::SUCCESS) idx = batch.schema().index_of(name);
    map.push_back(idx);
    if (idx >= 0) present[idx] = true;
  }
  size_t n = item_arr.size();
  for (size_t c = 0; c < columns.size(); ++c) batch.column(c).reserve(n);
  for (element item : item_arr) {
    simdjson::dom::array cells;
    if (item.get_array().get(cells) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent, fmt::format("a row in {} is not an array", rows.items));
    size_t j = 0;
    for (element cell : cells) {
      if (j < map.size() && map[j] >= 0) {
        auto r = append_value(batch.column(map[j]), columns[map[j]], cell);
        if (!r) return fail(r.error());
      }
      ++j;
    }
    if (j != map.size())
      return fail(ErrorKind::permanent, fmt::format("a row in {} has {} values for {} fields",
                                                    rows.items, j, map.size()));
    for (size_t c = 0; c < columns.size(); ++c)
      if (!present[c]) batch.column(c).append_null();
  }
  return batch;
}

Result<RecordBatch> extract_objects(const config::RowsDef& rows,
                                    const std::vector<config::ColumnDef>& columns,
                                    RecordBatch batch, element root) {
  auto items = at_path(root, rows.items, "rows");
  if (!items) return fail(items.error());
  simdjson::dom::array arr;
  if (items->get_array().get(arr) != simdjson::SUCCESS)
    return fail(ErrorKind::permanent, fmt::format("{} is not an array", rows.items));
  std::unordered_map<std::string_view, size_t> index;
  for (size_t c = 0; c < columns.size(); ++c) index.emplace(columns[c].name, c);
  std::vector<char> filled(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) batch.column(c).reserve(arr.size());
  for (element item : arr) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS)
      return fail(ErrorKind::permanent, fmt::format("a row in {} is not an object", rows.items));
    std::fill(filled.begin(), filled.end(), 0);
    for (auto field : obj) {
      auto it = index.find(field.key);
      if (it == index.end() || filled[it->second]) continue;
      auto r = append_value(batch.column(it->second), columns[it->second], field.value);
      if (!r) return fail(r.error());
      filled[it->second] = 1;
    }
    for (size_t c = 0; c < columns.size(); ++c)
      if (!filled[c]) batch.column(c).append_null();
  }
  return batch;
}

}  // namespace

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns, element root) {
  Schema schema;
  for (const auto& c : columns) schema.fields.push_back(Field{c.name, c.type});
  RecordBatch batch(std::move(schema));
  if (rows.kind == "fields_items")
    return extract_fields_items(rows, columns, std::move(batch), root);
  return extract_objects(rows, columns, std::move(batch), root);
}

Result<RecordBatch> extract_rows(const config::RowsDef& rows,
                                 const std::vector<config::ColumnDef>& columns,
                                 std::string_view body, simdjson::dom::parser& parser) {
  element root;
  auto err = parser.parse(body.data(), body.size(), true).get(root);
  if (err)
    return fail(ErrorKind::transient,
                fmt::format("response is not valid JSON ({})", simdjson::error_message(err)));
  return extract_rows(rows, columns, root);
}

}  // namespace finsync::provider
