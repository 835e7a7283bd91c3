// A result table of typed cells, and its JSON (Tushare "data") and CSV (truth) renderings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emu {

struct Cell {
  enum class Kind : std::uint8_t { null, integer, cents, text, date };
  Kind kind = Kind::null;
  std::int64_t num = 0;   // integer, hundredths, or YYYYMMDD
  std::string_view text;  // must outlive the table (points into the universe or a literal)

  static Cell null_value() { return {}; }
  static Cell integer(std::int64_t v) { return {Kind::integer, v, {}}; }
  static Cell cents(std::int64_t v) { return {Kind::cents, v, {}}; }
  static Cell str(std::string_view v) { return {Kind::text, 0, v}; }
  static Cell date(int ymd) { return {Kind::date, ymd, {}}; }
};

struct Table {
  std::vector<std::string_view> columns;
  std::vector<Cell> cells;  // row-major
  std::size_t rows = 0;

  void add_row(std::span<const Cell> row) {
    cells.insert(cells.end(), row.begin(), row.end());
    ++rows;
  }
};

// Appends a value in hundredths exactly as fmt "{:.2f}" prints it (e.g. -0.05, 10.50).
void append_cents(std::string& out, std::int64_t hundredths);
// Appends a JSON string literal (UTF-8 passes through; quotes and control characters escaped).
void append_json_string(std::string& out, std::string_view text);

// JSON: dates as "YYYYMMDD" strings, hundredths as 2-decimal numbers, null as null.
void append_json_cell(std::string& out, const Cell& cell);
// {"fields":[...],"items":[[...],...],"has_more":false} restricted to `columns` (indices).
void append_json_data(std::string& out, const Table& table, std::span<const std::size_t> columns);

// CSV (RFC 4180 quoting, LF line ends): dates as YYYY-MM-DD, hundredths with 2 decimals,
// null as an empty field.
void append_csv_row(std::string& out, std::span<const Cell> row);
void append_csv_header(std::string& out, std::span<const std::string_view> columns);

}  // namespace emu
