// Binance-style request-weight accounting: used weight per epoch-aligned "minute" window, 429
// with Retry-After when a request would exceed the limit, and an IP ban (418) of growing length
// for a client that keeps sending while it was told to wait.
#pragma once

#include <cstdint>

namespace emu {

class WeightLimiter {
 public:
  enum class Verdict { ok, limited, banned };

  struct Decision {
    Verdict verdict = Verdict::ok;
    double retry_after = 0;  // seconds (limited: until the window ends; banned: until the ban ends)
    double banned_until = 0;  // unix seconds (banned)
  };

  // limit 0 = unlimited. Not thread-safe: callers serialize.
  WeightLimiter(std::uint64_t limit, double minute_seconds);

  // Would a request of `weight` arriving at `t` be served? Updates the ban state: a request
  // during the Retry-After period of a 429 starts a ban of 2 "minutes", doubling with every
  // further ban, at most 3 "days" of 1440 minutes.
  Decision admit(double t, std::uint64_t weight);
  // Charges a served request.
  void charge(double t, std::uint64_t weight);
  // The weight used in the window containing `t`.
  std::uint64_t used(double t);

  std::uint64_t limit() const { return limit_; }

 private:
  void roll(double t);

  std::uint64_t limit_;
  double minute_;
  std::int64_t window_ = -1;
  std::uint64_t used_ = 0;
  double retry_until_ = 0;  // end of the Retry-After period of the last 429
  double banned_until_ = 0;
  int bans_ = 0;
};

}  // namespace emu
