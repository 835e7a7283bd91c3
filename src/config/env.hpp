#pragma once
// ${VAR} and ${VAR:-default} expansion. It runs only for the providers and sinks a command
// actually uses, so commands that need no secrets work on a machine with none set.
#include <string>

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

}  // namespace finsync::config
