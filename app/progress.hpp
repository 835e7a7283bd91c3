#pragma once
// Live progress: a bar on a terminal, plain log lines otherwise.
#include <chrono>

#include "engine/backfill.hpp"

namespace finsync::app {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool tty);
  void update(const engine::Progress& p);
  void finish();

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = {};
  int64_t start_done_ = -1;
  bool drawn_ = false;
};

}  // namespace finsync::app
