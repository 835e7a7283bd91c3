#include "engine/eta.hpp"

#include <algorithm>

namespace finsync::engine {

Eta estimate_eta(const EtaInput& in) {
  Eta e;
  const int64_t weight = std::max<int64_t>(1, in.weight);
  bool any_window = false;
  for (size_t i = 0; i < in.windows.size(); ++i) {
    const ratelimit::WindowSpec& w = in.windows[i];
    if (!w.endpoint.empty() && w.endpoint != in.endpoint) continue;
    any_window = true;
    const double per = std::chrono::duration<double>(w.per).count();
    const int64_t per_period = std::max<int64_t>(1, w.limit / weight);
    const int64_t used = i < in.usage.size() ? in.usage[i].used : 0;
    const int64_t fits_now = std::max<int64_t>(0, (w.limit - used) / weight);
    double secs = 0;
    if (in.requests > fits_now) {
      const int64_t rest = in.requests - fits_now;
      double first = per;
      if (i < in.usage.size() && in.usage[i].resets_at)
        first =
            std::max(0.0, std::chrono::duration<double>(*in.usage[i].resets_at - in.now).count());
      const int64_t periods = (rest + per_period - 1) / per_period;
      secs = first + double(periods - 1) * per;
    }
    if (e.limit_window.empty() || secs > e.limit_seconds) {
      e.limit_seconds = secs;
      e.limit_window = w.name();
    }
  }
  if (in.resume_at && *in.resume_at > in.now)
    e.limit_seconds =
        std::max(e.limit_seconds, std::chrono::duration<double>(*in.resume_at - in.now).count());
  if (in.achieved_rate > 0) e.run_seconds = double(in.requests) / in.achieved_rate;
  e.known = any_window || e.run_seconds >= 0 || in.requests == 0;
  e.bound_by_run = e.run_seconds > e.limit_seconds;
  e.seconds = std::max(e.limit_seconds, e.run_seconds);
  return e;
}

}  // namespace finsync::engine
