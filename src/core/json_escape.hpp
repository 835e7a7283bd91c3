#pragma once
#include <string>
#include <string_view>

namespace finsync {

// Escapes text for a JSON string literal (UTF-8 passes through unchanged).
std::string json_escape(std::string_view s);

}  // namespace finsync
