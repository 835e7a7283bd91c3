#pragma once
// Task leases of one process: its holder id, the renewal that keeps its leases alive while it
// runs, and the wait for a plan's writer lease where the sink takes one writer.
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/clock.hpp"
#include "state/state_store.hpp"

namespace finsync::engine {

struct LeaseSettings {
  std::string holder;  // this process in the state store: host, pid and start time
  std::chrono::milliseconds duration{30'000};
};

// host:pid:start:scope: unique across the machines that share a store, and says where a lease is
// from; scope tells whether another process here can see that pid (same boot, same pid
// namespace).
std::string lease_holder_id(const Clock& clock);

// True when `holder` names a process of this machine that no longer exists (it was killed): its
// leases need not run out before another process takes its tasks. A holder of another machine,
// or a pid that is alive, is not known to be dead.
bool holder_gone(const std::string& holder);

// Ends the leases of every holder among `tasks`' that holder_gone() says is dead; returns how
// many tasks came free. Runs on the caller's thread (a store job).
Result<int64_t> release_gone_holders(state::StateStore& store,
                                     const std::vector<state::Task>& tasks,
                                     const std::string& self);

// How often a holder renews: three times per lease, so a renewal may fail twice before the
// lease lapses.
std::chrono::milliseconds renew_interval(const LeaseSettings& s);

// Renews every lease of `s.holder` each renew_interval until `stop` is set; `running` is cleared
// on the way out. Runs its store calls on `pool`, never behind a landing on the store thread.
boost::asio::awaitable<void> keep_leases(state::StateStore& store, boost::asio::thread_pool& pool,
                                         const Clock& clock, LeaseSettings s, const bool& stop,
                                         bool& running);

// The plan's writer lease for a sink with one writer: waits, with one log line saying for whom,
// until it is free; true when taken, false when `stopping` was set first.
boost::asio::awaitable<Result<bool>> take_writer_lease(state::StateStore& store,
                                                       boost::asio::thread_pool& pool,
                                                       const Clock& clock, const LeaseSettings& s,
                                                       const std::string& plan,
                                                       const std::string& sink_kind,
                                                       std::atomic<bool>& stopping);

}  // namespace finsync::engine
