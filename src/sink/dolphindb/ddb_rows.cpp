#include "sink/dolphindb/ddb_rows.hpp"

#include <fmt/format.h>

namespace finsync::sink::dolphindb {

namespace {

Error refused(const RecordBatch& b, size_t col, size_t row, size_t begin, std::string_view why) {
  return Error{
      ErrorKind::invalid_input,
      fmt::format("row {}, column {}: {}", row - begin + 1, b.schema().fields[col].name, why),
      {}};
}

Result<void> strings(const RecordBatch& b, size_t ci, Type type, size_t begin, size_t end,
                     std::string& out) {
  const Column& c = b.column(ci);
  for (size_t r = begin; r < end; ++r) {
    if (!c.valid(r)) continue;
    const std::string& s = c.string_at(r);
    if (s.find('\0') != std::string::npos)
      return tl::unexpected(refused(b, ci, r, begin,
                                    "a string holding a NUL byte (DolphinDB "
                                    "strings end at the first one)"));
    if (type == Type::symbol && s.empty())
      return tl::unexpected(
          refused(b, ci, r, begin, "an empty string in a key column (DolphinDB reads it as null)"));
  }
  if (type == Type::string) {
    for (size_t r = begin; r < end; ++r) put_cstring(out, c.valid(r) ? c.string_at(r) : "");
    return {};
  }
  std::vector<std::string_view> values;
  values.reserve(end - begin);
  for (size_t r = begin; r < end; ++r)
    values.push_back(c.valid(r) ? std::string_view(c.string_at(r)) : std::string_view());
  put_symbols(out, values);
  return {};
}

Result<void> column(const RecordBatch& b, size_t ci, Type type, size_t begin, size_t end,
                    std::string& out) {
  const Column& c = b.column(ci);
  put_header(out, type == Type::symbol ? Type::symbol_extended : type, Form::vector);
  put(out, uint32_t(end - begin));
  put(out, uint32_t{1});
  switch (type) {
    case Type::long_:
      for (size_t r = begin; r < end; ++r) {
        if (c.valid(r) && c.int_at(r) == kNullLong)
          return tl::unexpected(
              refused(b, ci, r, begin, "-9223372036854775808 (DolphinDB's null LONG)"));
        put(out, c.valid(r) ? c.int_at(r) : kNullLong);
      }
      return {};
    case Type::double_:
      for (size_t r = begin; r < end; ++r) {
        if (c.valid(r) && c.double_at(r) == kNullDouble)
          return tl::unexpected(refused(b, ci, r, begin, "-DBL_MAX (DolphinDB's null DOUBLE)"));
        put(out, c.valid(r) ? c.double_at(r) : kNullDouble);
      }
      return {};
    case Type::date:
      // The framework's limits keep days inside INT's range.
      for (size_t r = begin; r < end; ++r) put(out, c.valid(r) ? int32_t(c.int_at(r)) : kNullInt);
      return {};
    case Type::timestamp:
      // Whole milliseconds: the framework refuses finer values before this is called.
      for (size_t r = begin; r < end; ++r) put(out, c.valid(r) ? c.int_at(r) / 1000 : kNullLong);
      return {};
    case Type::bool_:
      for (size_t r = begin; r < end; ++r)
        put(out, c.valid(r) ? int8_t(c.int_at(r) != 0) : kNullBool);
      return {};
    case Type::string:
    case Type::symbol:
      return strings(b, ci, type, begin, end, out);
    default:
      break;
  }
  return fail(ErrorKind::internal,
              fmt::format("column type {} is not one the sink writes", type_name(type)));
}

}  // namespace

Type column_type(DataType t, bool key) {
  switch (t) {
    case DataType::int64:
      return Type::long_;
    case DataType::float64:
      return Type::double_;
    case DataType::string:
      return key ? Type::symbol : Type::string;
    case DataType::date:
      return Type::date;
    case DataType::timestamp:
      return Type::timestamp;
    case DataType::boolean:
      return Type::bool_;
  }
  return Type::string;
}

std::optional<Type> parse_type(std::string_view name) {
  for (Type t : {Type::long_, Type::double_, Type::symbol, Type::string, Type::date,
                 Type::timestamp, Type::bool_, Type::int_})
    if (type_name(t) == name) return t;
  return std::nullopt;
}

Result<void> encode_rows(const RecordBatch& b, const std::vector<Type>& types, size_t begin,
                         size_t end, std::string& out) {
  const size_t cols = b.num_columns();
  put_header(out, Type::void_, Form::table);
  put(out, uint32_t(end - begin));
  put(out, uint32_t(cols));
  put_cstring(out, "");
  for (const auto& f : b.schema().fields) put_cstring(out, f.name);
  for (size_t i = 0; i < cols; ++i)
    if (auto r = column(b, i, types[i], begin, end, out); !r) return r;
  return {};
}

}  // namespace finsync::sink::dolphindb
