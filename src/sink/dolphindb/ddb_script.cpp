#include "sink/dolphindb/ddb_script.hpp"

#include <cctype>

#include <fmt/format.h>

#include "core/dates.hpp"

namespace finsync::sink::dolphindb {

std::string literal(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string symbols(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "`" + n;
  return out;
}

std::string date_literal(int32_t days) {
  std::string iso = dates::iso(days);
  for (char& c : iso)
    if (c == '-') c = '.';
  return iso;
}

Result<void> check_name(std::string_view name, std::string_view what) {
  bool ok = !name.empty() && std::isalpha(static_cast<unsigned char>(name[0]));
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (ok) return {};
  return fail(ErrorKind::invalid_input,
              fmt::format("{} '{}' is not a DolphinDB name; expected letters, digits and _, "
                          "starting with a letter",
                          what, name));
}

std::string Place::table(std::string_view name) const {
  if (!dfs()) return std::string(name);
  return fmt::format("loadTable({}, {})", literal(database), literal(name));
}

std::string Place::exists(std::string_view name) const {
  if (!dfs()) return fmt::format("defined({}, SHARED)", literal(name));
  return fmt::format("existsTable({}, {})", literal(database), literal(name));
}

}  // namespace finsync::sink::dolphindb
