#pragma once
#include <string>

#include "core/error.hpp"

namespace finsync::logging {

// Installs the process-wide logger on stderr: level is trace|debug|info|warn|error|off, format is
// text|json. Every line passes through secrets::mask before it is written.
Result<void> setup(const std::string& level, const std::string& format);

}  // namespace finsync::logging
