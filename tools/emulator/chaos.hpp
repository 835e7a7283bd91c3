// Fault injection, decided per request from one seeded RNG.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace emu {

enum class Fault {
  none,
  http_error,  // answer 500/502/503 with a small body
  drop,        // close the connection without answering
  truncate,    // send the header with the full Content-Length, half the body, then close
};

struct ChaosConfig {
  std::uint64_t seed = 1;
  double error_rate = 0;
  double drop_rate = 0;
  double truncate_rate = 0;
};

struct ChaosVerdict {
  Fault fault = Fault::none;
  int http_status = 200;  // for http_error
  std::string content_type;
  std::string body;
};

class Chaos {
 public:
  explicit Chaos(const ChaosConfig& config);

  // Draws two numbers from the RNG per call (one decides, one picks the error variant), so the
  // n-th call always gets the same verdict for a given seed and rates.
  ChaosVerdict decide();

 private:
  ChaosConfig config_;
  std::mutex mutex_;
  std::mt19937_64 rng_;
};

}  // namespace emu
