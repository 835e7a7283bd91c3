#pragma once
// ${VAR} and ${VAR:-default} expansion. It runs only for the providers and sinks a command
// actually uses, so commands that need no secrets work on a machine with none set.
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace finsync::config {

// A config value as written, with where it was written (file:line:col: key.path).
struct RawValue {
  std::string text;
  std::string where;
};

// Expanded values of secret fields, and of variables whose name says they are secret (TOKEN,
// KEY, SECRET, PASSWORD), are registered for masking.
Result<std::string> expand_env(const RawValue& raw, bool secret_field = false);

// A key whose name says its value is a credential: password, passwd, pwd, secret, token, apikey,
// api_key, key (case and '-' vs '_' ignored), or one containing password, secret, token or
// apikey. Written values of such keys must come from the environment.
bool secret_key_name(std::string_view key);
// Exactly one ${NAME} reference and nothing else (no literal text, no :-default).
bool is_env_reference(std::string_view value);

}  // namespace finsync::config
