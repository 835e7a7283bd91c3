// `finsync-emulator serve`: wires the data, the personality, chaos and the audit log to the
// HTTP server.
#pragma once

#include "options.hpp"

namespace emu {

int run_serve(const ServeOptions& options);

}  // namespace emu
