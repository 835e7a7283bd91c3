// `finsync-emulator truth`: the exact rows the API holds, as canonical CSV.
#pragma once

#include "options.hpp"

namespace emu {

int run_truth(const TruthOptions& options);

}  // namespace emu
