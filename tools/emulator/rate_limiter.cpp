#include "rate_limiter.hpp"

#include <cmath>

namespace emu {

RateLimiter::RateLimiter(std::uint64_t per_minute, std::uint64_t per_day, double minute_seconds,
                         double day_seconds)
    : per_minute_(per_minute),
      per_day_(per_day),
      minute_seconds_(minute_seconds),
      day_seconds_(day_seconds) {}

std::int64_t RateLimiter::day_index(double t) const {
  return static_cast<std::int64_t>(std::floor(t / day_seconds_));
}

void RateLimiter::expire(Counters& c, double t) const {
  while (!c.recent.empty() && c.recent.front() <= t - minute_seconds_) c.recent.pop_front();
  const std::int64_t today = day_index(t);
  if (c.day != today) {
    c.day = today;
    c.served_today = 0;
  }
}

RateLimiter::Verdict RateLimiter::check(const std::string& api, double t) {
  if (per_minute_ == 0 && per_day_ == 0) return Verdict::ok;
  Counters& c = counters_[api];
  expire(c, t);
  if (per_day_ != 0 && c.served_today >= per_day_) return Verdict::day;
  if (per_minute_ != 0 && c.recent.size() >= per_minute_) return Verdict::minute;
  return Verdict::ok;
}

void RateLimiter::record(const std::string& api, double t) {
  if (per_minute_ == 0 && per_day_ == 0) return;
  Counters& c = counters_[api];
  expire(c, t);
  if (per_minute_ != 0) c.recent.push_back(t);
  ++c.served_today;
}

}  // namespace emu
