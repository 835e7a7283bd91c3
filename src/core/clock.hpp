#pragma once
// Time comes from a Clock so that pacing and scheduling logic can be tested with a fake one.
#include <atomic>

#include "core/error.hpp"

namespace finsync {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return Clock_t::now(); }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{}) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Clock_t::duration(now_.load())); }
  void advance(Clock_t::duration d) { now_ += d.count(); }
  void set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<Clock_t::rep> now_;
};

}  // namespace finsync
