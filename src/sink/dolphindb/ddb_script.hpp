#pragma once
// Pieces of the DolphinDB scripts the sink runs: quoted strings, symbol lists, date literals,
// and references to the table it lands in (a DFS table or a shared in-memory table).
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace finsync::sink::dolphindb {

// "text" with backslashes and double quotes escaped.
std::string literal(std::string_view s);
// `a`b`c: a SYMBOL vector of names.
std::string symbols(const std::vector<std::string>& names);
// 2024.01.31: a DATE literal.
std::string date_literal(int32_t days);
// Names go into scripts unquoted (as symbols and column names): letters, digits and _, starting
// with a letter. invalid_input otherwise, naming `what`.
Result<void> check_name(std::string_view name, std::string_view what);

// Where the sink's tables live: `database` empty for shared in-memory tables (`share ... as t`,
// referred to by name), else a DFS database ("dfs://market", tables by loadTable).
struct Place {
  std::string database;
  bool dfs() const { return !database.empty(); }
  // An expression for the table: loadTable("dfs://market", "daily") or daily.
  std::string table(std::string_view name) const;
  // A BOOL expression: whether the table exists.
  std::string exists(std::string_view name) const;
};

}  // namespace finsync::sink::dolphindb
