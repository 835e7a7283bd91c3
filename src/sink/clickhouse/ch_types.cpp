#include "sink/clickhouse/ch_types.hpp"

#include <cstring>

#include "core/dates.hpp"

namespace finsync::sink::clickhouse {

namespace {

template <class T>
void put_le(T v, std::string& out) {
  unsigned char bytes[sizeof(T)];
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<unsigned char>(u >> (8 * i));
  out.append(reinterpret_cast<const char*>(bytes), sizeof(T));
}

void put_varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_value(const Column& col, size_t r, std::string& out) {
  switch (col.type()) {
    case DataType::int64:
      put_le<int64_t>(col.int_at(r), out);
      break;
    case DataType::timestamp:
      put_le<int64_t>(col.int_at(r) / 1000, out);
      break;
    case DataType::float64:
      put_le<double>(col.double_at(r), out);
      break;
    case DataType::date:
      put_le<uint16_t>(static_cast<uint16_t>(col.int_at(r)), out);
      break;
    case DataType::boolean:
      out.push_back(col.int_at(r) != 0 ? 1 : 0);
      break;
    case DataType::string: {
      const std::string& s = col.string_at(r);
      put_varint(s.size(), out);
      out.append(s);
      break;
    }
  }
}

}  // namespace

std::string column_type(DataType type) {
  switch (type) {
    case DataType::int64:
    case DataType::timestamp:
      return "Int64";
    case DataType::float64:
      return "Float64";
    case DataType::string:
      return "String";
    case DataType::date:
      return "Date";
    case DataType::boolean:
      return "UInt8";
  }
  return "String";
}

std::string nullable_type(DataType type) {
  return "Nullable(" + column_type(type) + ")";
}

std::string strip_nullable(const std::string& type, bool& nullable) {
  constexpr std::string_view head = "Nullable(";
  nullable = type.size() > head.size() + 1 && type.compare(0, head.size(), head) == 0 &&
             type.back() == ')';
  if (!nullable) return type;
  return type.substr(head.size(), type.size() - head.size() - 1);
}

int32_t last_date() {
  return dates::days_from_civil(2105, 12, 31);
}

void append_rows(const RecordBatch& b, size_t begin, size_t end, const std::vector<bool>& nullable,
                 std::string& out) {
  const size_t n = b.num_columns();
  for (size_t r = begin; r < end; ++r) {
    for (size_t c = 0; c < n; ++c) {
      const Column& col = b.column(c);
      if (nullable[c]) {
        if (!col.valid(r)) {
          out.push_back(1);
          continue;
        }
        out.push_back(0);
      }
      put_value(col, r, out);
    }
  }
}

}  // namespace finsync::sink::clickhouse
