#pragma once
// A request goes out only when every window that applies to it admits it. A request holds its
// slot in a sliding window from the moment it is sent until `per` after its response arrived, so
// a provider that counts arrivals in any interval of `per` never sees more than `limit`, whatever
// the network delay; calendar-aligned windows count requests sent in the current period. Every
// decision is taken inside one ledger transaction, so processes sharing a state store share the
// budget. Blocking (the ledger is a database): call from the store pool, never the I/O thread.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "ratelimit/ledger.hpp"
#include "ratelimit/window.hpp"

namespace finsync::ratelimit {

struct Decision {
  bool granted = false;
  int64_t permit = 0;
  // When not granted: the earliest time a retry can succeed; nullopt when it depends on a
  // request in flight completing (try again shortly).
  std::optional<TimePoint> retry_at;
  // A spent quota window (index into windows()): park until retry_at rather than wait.
  std::optional<size_t> quota;
  std::string reason;  // what holds the request back, for logs
};

struct Usage {
  std::string window;
  int64_t used = 0;
  int64_t limit = 0;
  std::optional<TimePoint> resets_at;  // calendar-aligned windows
};

struct LimiterOptions {
  std::string provider;
  std::string account = "default";
  std::vector<WindowSpec> windows;
  // A slot whose holder never reported back stops counting after this long.
  Clock_t::duration in_flight_timeout = std::chrono::minutes(5);
};

class Limiter {
 public:
  Limiter(LimiterOptions options, LedgerStore& ledger, const Clock& clock);

  Result<Decision> try_acquire(const std::string& endpoint, int64_t weight = 1);
  // The response for `permit` arrived now.
  Result<void> release(int64_t permit);
  // After a rate-limit answer: nothing goes to `endpoint` ("" = every endpoint) of this account
  // before `until`, in any process.
  Result<void> block_until(const std::string& endpoint, TimePoint until, const std::string& reason);
  // A response stated the weight used in window i: raise the ledger to it (never lower it).
  Result<void> observe_used(size_t window, int64_t used);
  // The provider said the quota of window i is spent: count it full until its reset.
  Result<void> mark_spent(size_t window);
  // The provider stated a lower limit than configured (Tushare: "每分钟最多访问该接口N次").
  void lower_limit(size_t window, int64_t limit) { options_.windows[window].limit = limit; }

  Result<std::vector<Usage>> usage();
  const std::vector<WindowSpec>& windows() const { return options_.windows; }
  const std::string& account() const { return options_.account; }
  bool applies(size_t window, const std::string& endpoint) const;

 private:
  TimePoint prune_before(TimePoint now) const;
  Result<void> transact(const std::function<void(LedgerState&, TimePoint)>& fn);
  int64_t sliding_used(const LedgerState& s, size_t window, TimePoint now) const;
  Counter& counter(LedgerState& s, size_t window, TimePoint now) const;
  bool slot_counts(const Slot& x, size_t window) const;

  LimiterOptions options_;
  LedgerStore& ledger_;
  const Clock& clock_;
  std::mt19937_64 ids_{std::random_device{}()};
};

}  // namespace finsync::ratelimit
