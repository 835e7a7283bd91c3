#include "sink/clickhouse/ch_sql.hpp"

namespace finsync::sink::clickhouse {

namespace {

std::string quoted(std::string_view text, char quote) {
  std::string out;
  out.reserve(text.size() + 2);
  out += quote;
  for (char c : text) {
    if (c == '\\' || c == quote) out += '\\';
    out += c;
  }
  out += quote;
  return out;
}

}  // namespace

std::string quote_name(std::string_view name) {
  return quoted(name, '`');
}

std::string literal(std::string_view text) {
  return quoted(text, '\'');
}

std::vector<std::vector<std::string>> parse_tsv(std::string_view body) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool any = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\\' && i + 1 < body.size()) {
      const char e = body[++i];
      switch (e) {
        case 't':
          cell += '\t';
          break;
        case 'n':
          cell += '\n';
          break;
        case 'r':
          cell += '\r';
          break;
        case '0':
          cell += '\0';
          break;
        case 'b':
          cell += '\b';
          break;
        case 'f':
          cell += '\f';
          break;
        default:
          cell += e;
      }
      any = true;
    } else if (c == '\t') {
      row.push_back(std::move(cell));
      cell.clear();
      any = true;
    } else if (c == '\n') {
      row.push_back(std::move(cell));
      cell.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
    } else {
      cell += c;
      any = true;
    }
  }
  if (any) {
    row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace finsync::sink::clickhouse
