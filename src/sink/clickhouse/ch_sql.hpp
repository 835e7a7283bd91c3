#pragma once
// ClickHouse SQL text: quoted names and literals, and TabSeparated answers read back.
#include <string>
#include <string_view>
#include <vector>

namespace finsync::sink::clickhouse {

// `name`, backslash and backtick escaped.
std::string quote_name(std::string_view name);
// 'text', backslash and single quote escaped (ClickHouse string literals take C escapes).
std::string literal(std::string_view text);
// The rows of a FORMAT TabSeparated answer, each cell unescaped (\t \n \\ \' \0 ...).
std::vector<std::vector<std::string>> parse_tsv(std::string_view body);

}  // namespace finsync::sink::clickhouse
