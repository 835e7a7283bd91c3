#include "weight_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace emu {

WeightLimiter::WeightLimiter(std::uint64_t limit, double minute_seconds)
    : limit_(limit), minute_(minute_seconds) {}

void WeightLimiter::roll(double t) {
  const auto w = static_cast<std::int64_t>(std::floor(t / minute_));
  if (w != window_) {
    window_ = w;
    used_ = 0;
  }
}

WeightLimiter::Decision WeightLimiter::admit(double t, std::uint64_t weight) {
  roll(t);
  Decision d;
  if (t < banned_until_) {
    d.verdict = Verdict::banned;
    d.banned_until = banned_until_;
    d.retry_after = banned_until_ - t;
    return d;
  }
  if (t < retry_until_) {
    // Ignored a Retry-After: ban, 2 minutes the first time, doubling up to 3 days.
    ++bans_;
    const double length =
        std::min(2.0 * std::pow(2.0, static_cast<double>(std::min(bans_ - 1, 20))), 3.0 * 1440.0) *
        minute_;
    banned_until_ = t + length;
    retry_until_ = 0;
    d.verdict = Verdict::banned;
    d.banned_until = banned_until_;
    d.retry_after = length;
    return d;
  }
  if (limit_ != 0 && used_ + weight > limit_) {
    retry_until_ = static_cast<double>(window_ + 1) * minute_;
    d.verdict = Verdict::limited;
    d.retry_after = retry_until_ - t;
    return d;
  }
  return d;
}

void WeightLimiter::charge(double t, std::uint64_t weight) {
  roll(t);
  used_ += weight;
}

std::uint64_t WeightLimiter::used(double t) {
  roll(t);
  return used_;
}

}  // namespace emu
