#pragma once
// Columnar rows: providers produce batches, sinks consume them. Nothing on the hot path turns a
// row into strings; values stay in typed vectors with a validity byte per row.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace finsync {

enum class DataType { int64, float64, string, date, timestamp, boolean };

std::string_view to_string(DataType t);
std::optional<DataType> parse_data_type(std::string_view s);

struct Field {
  std::string name;
  DataType type = DataType::string;
};

struct Schema {
  std::vector<Field> fields;

  int index_of(std::string_view name) const;
  bool operator==(const Schema&) const = default;
};

inline bool operator==(const Field& a, const Field& b) {
  return a.name == b.name && a.type == b.type;
}

// date: days since 1970-01-01; timestamp: microseconds since the epoch (UTC).
class Column {
 public:
  explicit Column(DataType type);

  DataType type() const { return type_; }
  size_t size() const { return valid_.size(); }
  bool valid(size_t row) const { return valid_[row] != 0; }

  void append_null();
  void append_int(int64_t v);  // int64, date, timestamp, boolean
  void append_double(double v);
  void append_string(std::string_view v);
  void reserve(size_t n);

  int64_t int_at(size_t row) const { return std::get<std::vector<int64_t>>(data_)[row]; }
  double double_at(size_t row) const { return std::get<std::vector<double>>(data_)[row]; }
  const std::string& string_at(size_t row) const {
    return std::get<std::vector<std::string>>(data_)[row];
  }

  const std::vector<int64_t>& ints() const { return std::get<std::vector<int64_t>>(data_); }
  const std::vector<double>& doubles() const { return std::get<std::vector<double>>(data_); }
  const std::vector<std::string>& strings() const {
    return std::get<std::vector<std::string>>(data_);
  }

 private:
  DataType type_;
  std::variant<std::vector<int64_t>, std::vector<double>, std::vector<std::string>> data_;
  std::vector<uint8_t> valid_;
};

class RecordBatch {
 public:
  RecordBatch() = default;
  explicit RecordBatch(Schema schema);

  const Schema& schema() const { return schema_; }
  size_t num_rows() const { return columns_.empty() ? 0 : columns_[0].size(); }
  size_t num_columns() const { return columns_.size(); }
  Column& column(size_t i) { return columns_[i]; }
  const Column& column(size_t i) const { return columns_[i]; }
  // Approximate in-memory payload size, used for byte counters in reports.
  size_t byte_size() const;
  // Appends rows [begin, end) of `other`, which must have the same schema.
  void append_rows(const RecordBatch& other, size_t begin, size_t end);

 private:
  Schema schema_;
  std::vector<Column> columns_;
};

}  // namespace finsync
