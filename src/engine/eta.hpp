#pragma once
// How long the rest of a plan takes: the requests left under the rate the limits allow (from
// what each window has already spent), and at the rate the last run achieved. The slower of
// the two bounds the ETA.
#include <optional>
#include <string>
#include <vector>

#include "ratelimit/limiter.hpp"

namespace finsync::engine {

struct EtaInput {
  int64_t requests = 0;  // data requests left
  int64_t weight = 1;    // of each
  std::string endpoint;
  std::vector<ratelimit::WindowSpec> windows;
  std::vector<ratelimit::Usage> usage;  // parallel to windows; empty: nothing spent
  TimePoint now{};
  std::optional<TimePoint> resume_at;  // parked until
  double achieved_rate = 0;            // requests per second of the last run; 0: no run yet
};

struct Eta {
  bool known = false;         // false: no window applies and no run has sent a request
  double seconds = 0;         // the larger of the two below
  double limit_seconds = 0;   // under the windows (and the parking)
  std::string limit_window;   // the window that sets that pace; "" when none applies
  double run_seconds = -1;    // at the last run's rate; < 0 when there was none
  bool bound_by_run = false;  // the last run's rate is the slower bound
};

// Per window that applies to the endpoint: the requests that still fit the current period go
// at once; the rest need full periods, the first of them starting at the window's reset
// (calendar windows) or one `per` from now (sliding: every slot held now has freed by then).
Eta estimate_eta(const EtaInput& in);

}  // namespace finsync::engine
