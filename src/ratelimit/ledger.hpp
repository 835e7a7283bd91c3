#pragma once
// The quota ledger: what a provider's accounts have spent, kept where every process that uses
// them can see it (the state store), so a restart does not burst and two processes share one
// budget. A store only loads and saves; the limiter decides.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace finsync::ratelimit {

// One request in a sliding window: counted from `sent` while in flight, then until `done + per`.
// A holder that died leaves `done` empty; the slot stops counting at `stale_after`.
struct Slot {
  int64_t id = 0;  // chosen by the limiter at random: unique across processes without a round trip
  std::string account;
  std::string endpoint;
  int64_t weight = 1;
  TimePoint sent{};
  std::optional<TimePoint> done;
  TimePoint stale_after{};
  bool added = false;  // new in this transaction
  bool dirty = false;  // `done` changed
};

// Weight spent in the current period of a calendar-aligned window.
struct Counter {
  std::string window;  // WindowSpec::name()
  TimePoint period_start{};
  int64_t used = 0;
  bool dirty = false;
};

// Nothing goes to (account, endpoint) before `until`: a 429/418 or a Retry-After said so.
struct Block {
  std::string account;   // "" = every account
  std::string endpoint;  // "" = every endpoint
  TimePoint until{};
  std::string reason;
  bool dirty = false;
};

struct LedgerState {
  std::vector<Slot> slots;
  std::vector<Counter> counters;
  std::vector<Block> blocks;
};

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;
  // Loads `provider`'s ledger under a lock that excludes every other user of the store, runs
  // `fn` on it, writes back what `fn` added or marked dirty, and commits. Slots done before
  // `prune_before`, stale slots and expired blocks are dropped first.
  virtual Result<void> transact(const std::string& provider, TimePoint now, TimePoint prune_before,
                                const std::function<void(LedgerState&)>& fn) = 0;
};

// In memory, for one process (tests, and commands that keep no state).
std::unique_ptr<LedgerStore> make_memory_ledger();

}  // namespace finsync::ratelimit
