#include "table.hpp"

#include <algorithm>
#include <charconv>

#include "dates.hpp"

namespace emu {

namespace {

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Raw writers for the hot JSON path: each writes at p and returns the new end (at most 24
// bytes).
char* put_int(char* p, std::int64_t v) {
  return std::to_chars(p, p + 24, v).ptr;
}

char* put_cents(char* p, std::int64_t hundredths) {
  std::uint64_t mag = hundredths < 0 ? 0 - static_cast<std::uint64_t>(hundredths)
                                     : static_cast<std::uint64_t>(hundredths);
  if (hundredths < 0) *p++ = '-';
  p = std::to_chars(p, p + 22, mag / 100).ptr;
  const auto frac = static_cast<unsigned>(mag % 100);
  *p++ = '.';
  *p++ = static_cast<char>('0' + frac / 10);
  *p++ = static_cast<char>('0' + frac % 10);
  return p;
}

char* put_ymd(char* p, std::int64_t ymd) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>('0' + ymd % 10);
    ymd /= 10;
  }
  return p + 8;
}

bool is_plain_json(std::string_view text) {
  bool plain = true;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    plain = plain && c >= 0x20 && c != '"' && c != '\\';
  }
  return plain;
}

}  // namespace

void append_cents(std::string& out, std::int64_t hundredths) {
  std::uint64_t mag = hundredths < 0 ? 0 - static_cast<std::uint64_t>(hundredths)
                                     : static_cast<std::uint64_t>(hundredths);
  if (hundredths < 0) out.push_back('-');
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, mag / 100);
  out.append(buf, r.ptr);
  const auto frac = static_cast<unsigned>(mag % 100);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + frac / 10));
  out.push_back(static_cast<char>('0' + frac % 10));
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  if (is_plain_json(text)) {
    out.append(text);
    out.push_back('"');
    return;
  }
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_json_cell(std::string& out, const Cell& cell) {
  switch (cell.kind) {
    case Cell::Kind::null:
      out += "null";
      break;
    case Cell::Kind::integer:
      append_int(out, cell.num);
      break;
    case Cell::Kind::cents:
      append_cents(out, cell.num);
      break;
    case Cell::Kind::text:
      append_json_string(out, cell.text);
      break;
    case Cell::Kind::date:
      out.push_back('"');
      append_ymd(out, static_cast<int>(cell.num));
      out.push_back('"');
      break;
  }
}

void append_json_data(std::string& out, const Table& table, std::span<const std::size_t> columns) {
  const std::size_t width = table.columns.size();
  out += "{\"fields\":[";
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, table.columns[columns[i]]);
  }
  out += "],\"items\":[";
  // Rows are assembled in a local buffer and appended in one go: this is the hot path of a
  // 6000-row answer.
  constexpr std::size_t kBuf = 1024, kRoom = 32;
  char buf[kBuf];
  char* p = buf;
  auto flush = [&] {
    out.append(buf, static_cast<std::size_t>(p - buf));
    p = buf;
  };
  for (std::size_t r = 0; r < table.rows; ++r) {
    if (r) *p++ = ',';
    *p++ = '[';
    const Cell* row = table.cells.data() + r * width;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (static_cast<std::size_t>(buf + kBuf - p) < kRoom) flush();
      if (i) *p++ = ',';
      const Cell& cell = row[columns[i]];
      switch (cell.kind) {
        case Cell::Kind::null:
          p = std::copy_n("null", 4, p);
          break;
        case Cell::Kind::integer:
          p = put_int(p, cell.num);
          break;
        case Cell::Kind::cents:
          p = put_cents(p, cell.num);
          break;
        case Cell::Kind::date:
          *p++ = '"';
          p = put_ymd(p, cell.num);
          *p++ = '"';
          break;
        case Cell::Kind::text:
          if (cell.text.size() + 2 <= static_cast<std::size_t>(buf + kBuf - p) &&
              is_plain_json(cell.text)) {
            *p++ = '"';
            p = std::copy(cell.text.begin(), cell.text.end(), p);
            *p++ = '"';
          } else {
            flush();
            append_json_string(out, cell.text);
          }
          break;
      }
    }
    if (static_cast<std::size_t>(buf + kBuf - p) < kRoom) flush();
    *p++ = ']';
  }
  flush();
  out += "],\"has_more\":false}";
}

void append_csv_row(std::string& out, std::span<const Cell> row) {
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i) out.push_back(',');
    const Cell& cell = row[i];
    switch (cell.kind) {
      case Cell::Kind::null:
        break;
      case Cell::Kind::integer:
        append_int(out, cell.num);
        break;
      case Cell::Kind::cents:
        append_cents(out, cell.num);
        break;
      case Cell::Kind::text:
        append_csv_field(out, cell.text);
        break;
      case Cell::Kind::date:
        append_ymd_dashed(out, static_cast<int>(cell.num));
        break;
    }
  }
  out.push_back('\n');
}

void append_csv_header(std::string& out, std::span<const std::string_view> columns) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i) out.push_back(',');
    append_csv_field(out, columns[i]);
  }
  out.push_back('\n');
}

}  // namespace emu
