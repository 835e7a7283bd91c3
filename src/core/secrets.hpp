#pragma once
// Secrets never reach logs, errors, reports or the dashboard. Every secret value that config
// expansion resolves is registered here; mask() also removes credentials by shape (URL
// passwords, token-like query and JSON fields) for values that were never registered.
#include <string>
#include <string_view>

namespace finsync::secrets {

void register_secret(std::string_view value);
std::string mask(std::string_view text);

}  // namespace finsync::secrets
