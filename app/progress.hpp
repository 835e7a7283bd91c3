#pragma once
// Live progress: a bar on a terminal, plain log lines otherwise.
#include <chrono>

#include "engine/backfill.hpp"

namespace finsync::app {

class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool tty);
  void update(const engine::Progress& p);
  // Parked: seconds until the quota resets.
  void waiting(double seconds_left);
  void finish();

 private:
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = {};
  int64_t start_done_ = -1;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_wait_ = {};
};

}  // namespace finsync::app
