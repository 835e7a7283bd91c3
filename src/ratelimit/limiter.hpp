#pragma once
// A request goes out only when every window that applies to it admits it. A request holds its
// slot from the moment it is sent until `per` after its response arrived, so a provider that
// counts arrivals in any sliding window of `per` never sees more than `limit`, whatever the
// network delay. Pure logic on a Clock; the engine waits with timers.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace finsync::ratelimit {

struct WindowSpec {
  std::string endpoint;  // empty: every endpoint of the account
  int64_t limit = 0;
  Clock_t::duration per{};
};

struct Decision {
  bool granted = false;
  uint64_t permit = 0;
  // When not granted: the earliest time a retry can succeed; nullopt when it depends on a
  // request in flight completing (call again after a release).
  std::optional<TimePoint> retry_at;
};

class Limiter {
 public:
  Limiter(std::vector<WindowSpec> windows, const Clock& clock);

  Decision try_acquire(const std::string& endpoint, int64_t weight = 1);
  // The response for `permit` arrived now.
  void release(uint64_t permit);
  // After a rate-limit answer: nothing goes to `endpoint` (empty: all) before `until`.
  void block_until(const std::string& endpoint, TimePoint until);
  // Weighted requests counted in window i now (sent and not yet expired).
  int64_t used(size_t window) const;
  size_t window_count() const { return windows_.size(); }

 private:
  struct Slot {
    TimePoint expires;
    int64_t weight;
  };
  struct WindowState {
    WindowSpec spec;
    int64_t in_flight = 0;
    std::deque<Slot> done;  // ordered by expiry
  };
  struct Permit {
    std::vector<size_t> windows;
    int64_t weight;
  };
  void expire(WindowState& w, TimePoint now) const;
  bool applies(const WindowState& w, const std::string& endpoint) const;

  const Clock& clock_;
  mutable std::vector<WindowState> windows_;
  std::map<uint64_t, Permit> permits_;
  std::map<std::string, TimePoint> blocked_;  // "" = whole account
  uint64_t next_permit_ = 1;
};

}  // namespace finsync::ratelimit
