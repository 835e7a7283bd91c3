// Per-api_name request limits: a sliding per-minute window and a calendar-aligned day window.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace emu {

class RateLimiter {
 public:
  enum class Verdict { ok, minute, day };

  // A limit of 0 means unlimited. Not thread-safe: callers serialize.
  RateLimiter(std::uint64_t per_minute, std::uint64_t per_day, double minute_seconds,
              double day_seconds);

  // Would a request to `api` arriving at unix time `t` be over a limit? (The day limit is
  // checked first.)
  Verdict check(const std::string& api, double t);
  // Count a served request.
  void record(const std::string& api, double t);

  std::uint64_t per_minute() const { return per_minute_; }
  std::uint64_t per_day() const { return per_day_; }

 private:
  struct Counters {
    std::deque<double> recent;  // arrival times of served requests within the minute window
    std::int64_t day = -1;      // index of the day window `served_today` belongs to
    std::uint64_t served_today = 0;
  };
  void expire(Counters& c, double t) const;
  std::int64_t day_index(double t) const;

  std::uint64_t per_minute_;
  std::uint64_t per_day_;
  double minute_seconds_;
  double day_seconds_;
  std::map<std::string, Counters> counters_;
};

}  // namespace emu
