// finsync-emulator: a local stand-in for market-data APIs (Tushare, Alpha Vantage, Polygon,
// Binance), and the source of truth for the data it serves. Shares no code with the rest of the
// project on purpose.
#include <cstdio>
#include <exception>

#include "options.hpp"
#include "serve.hpp"
#include "truth.hpp"

int main(int argc, char** argv) {
  emu::Invocation invocation;
  if (const auto exit_code = emu::parse_command_line(argc, argv, invocation)) return *exit_code;
  try {
    return invocation.command == emu::Command::serve ? emu::run_serve(invocation.serve)
                                                     : emu::run_truth(invocation.truth);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finsync-emulator: %s\n", e.what());
    return 1;
  }
}
