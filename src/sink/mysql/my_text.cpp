#include "sink/mysql/my_text.hpp"

#include <iterator>

#include <fmt/format.h>

#include "sink/db/value_text.hpp"

namespace finsync::sink::mysql {

char* format_datetime(int64_t micros, char* out) {
  char* end = db::format_timestamp(micros, out);
  out[10] = ' ';
  return end - 1;
}

namespace {

// Numbers, dates and timestamps: the same text in both forms.
void append_scalar(const Column& c, size_t r, std::string& out) {
  char buf[40];
  switch (c.type()) {
    case DataType::int64:
      fmt::format_to(std::back_inserter(out), "{}", c.int_at(r));
      break;
    case DataType::boolean:
      out += c.int_at(r) != 0 ? '1' : '0';
      break;
    case DataType::float64:
      fmt::format_to(std::back_inserter(out), "{}", c.double_at(r));
      break;
    case DataType::date:
      out.append(buf, db::format_date(int32_t(c.int_at(r)), buf));
      break;
    case DataType::timestamp:
      out.append(buf, format_datetime(c.int_at(r), buf));
      break;
    case DataType::string:
      break;
  }
}

}  // namespace

void append_load_line(const RecordBatch& b, size_t r, std::string& out) {
  for (size_t i = 0; i < b.num_columns(); ++i) {
    if (i) out += '\t';
    const Column& c = b.column(i);
    if (!c.valid(r)) {
      out += "\\N";
      continue;
    }
    if (c.type() != DataType::string) {
      append_scalar(c, r, out);
      continue;
    }
    for (char ch : c.string_at(r)) {
      switch (ch) {
        case '\\':
          out += "\\\\";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\0':
          out += "\\0";
          break;
        default:
          out += ch;
      }
    }
  }
  out += '\n';
}

std::string_view load_format_clause() {
  return "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'";
}

bool append_literal(const Column& c, size_t r, std::string& out) {
  if (!c.valid(r)) {
    out += "NULL";
    return true;
  }
  switch (c.type()) {
    case DataType::string:
      return false;
    case DataType::date:
    case DataType::timestamp:
      out += '\'';
      append_scalar(c, r, out);
      out += '\'';
      return true;
    default:
      append_scalar(c, r, out);
      return true;
  }
}

std::string quote_name(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

}  // namespace finsync::sink::mysql
