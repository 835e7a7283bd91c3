#include <algorithm>
#include <map>
#include <mutex>

#include "ratelimit/ledger.hpp"

namespace finsync::ratelimit {
namespace {

class MemoryLedger final : public LedgerStore {
 public:
  Result<void> transact(const std::string& provider, TimePoint now, TimePoint prune_before,
                        const std::function<void(LedgerState&)>& fn) override {
    std::lock_guard lock(mu_);
    LedgerState& s = state_[provider];
    std::erase_if(s.slots, [&](const Slot& x) {
      return x.done ? *x.done < prune_before : x.stale_after < now;
    });
    std::erase_if(s.blocks, [&](const Block& b) { return b.until <= now; });
    fn(s);
    for (auto& x : s.slots) x.added = x.dirty = false;
    for (auto& c : s.counters) c.dirty = false;
    for (auto& b : s.blocks) b.dirty = false;
    return {};
  }

 private:
  std::mutex mu_;
  std::map<std::string, LedgerState> state_;
};

}  // namespace

std::unique_ptr<LedgerStore> make_memory_ledger() {
  return std::make_unique<MemoryLedger>();
}

}  // namespace finsync::ratelimit
