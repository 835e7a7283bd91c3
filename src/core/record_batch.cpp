#include "core/record_batch.hpp"

namespace finsync {

std::string_view to_string(DataType t) {
  switch (t) {
    case DataType::int64:
      return "int64";
    case DataType::float64:
      return "double";
    case DataType::string:
      return "string";
    case DataType::date:
      return "date";
    case DataType::timestamp:
      return "timestamp";
    case DataType::boolean:
      return "bool";
  }
  return "string";
}

std::optional<DataType> parse_data_type(std::string_view s) {
  if (s == "int64" || s == "int") return DataType::int64;
  if (s == "double" || s == "float64" || s == "decimal") return DataType::float64;
  if (s == "string") return DataType::string;
  if (s == "date") return DataType::date;
  if (s == "timestamp") return DataType::timestamp;
  if (s == "bool" || s == "boolean") return DataType::boolean;
  return std::nullopt;
}

int Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == name) return static_cast<int>(i);
  return -1;
}

Column::Column(DataType type) : type_(type) {
  switch (type) {
    case DataType::float64:
      data_ = std::vector<double>{};
      break;
    case DataType::string:
      data_ = std::vector<std::string>{};
      break;
    default:
      data_ = std::vector<int64_t>{};
      break;
  }
}

void Column::append_null() {
  std::visit([](auto& v) { v.emplace_back(); }, data_);
  valid_.push_back(0);
}

void Column::append_int(int64_t v) {
  std::get<std::vector<int64_t>>(data_).push_back(v);
  valid_.push_back(1);
}

void Column::append_double(double v) {
  std::get<std::vector<double>>(data_).push_back(v);
  valid_.push_back(1);
}

void Column::append_string(std::string_view v) {
  std::get<std::vector<std::string>>(data_).emplace_back(v);
  valid_.push_back(1);
}

void Column::reserve(size_t n) {
  std::visit([n](auto& v) { v.reserve(n); }, data_);
  valid_.reserve(n);
}

RecordBatch::RecordBatch(Schema schema) : schema_(std::move(schema)) {
  columns_.reserve(schema_.fields.size());
  for (const auto& f : schema_.fields) columns_.emplace_back(f.type);
}

size_t RecordBatch::byte_size() const {
  size_t total = 0;
  for (const auto& c : columns_) {
    if (c.type() == DataType::string) {
      for (const auto& s : c.strings()) total += s.size();
    } else {
      total += c.size() * 8;
    }
  }
  return total;
}

void RecordBatch::append_rows(const RecordBatch& other, size_t begin, size_t end) {
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& src = other.column(c);
    Column& dst = columns_[c];
    for (size_t r = begin; r < end; ++r) {
      if (!src.valid(r)) {
        dst.append_null();
      } else if (src.type() == DataType::float64) {
        dst.append_double(src.double_at(r));
      } else if (src.type() == DataType::string) {
        dst.append_string(src.string_at(r));
      } else {
        dst.append_int(src.int_at(r));
      }
    }
  }
}

}  // namespace finsync
