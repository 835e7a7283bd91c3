#include "engine/leases.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>

#include <algorithm>
#include <array>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/blocking.hpp"

namespace finsync::engine {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string host_name() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return "localhost";
  return host.data();
}

std::string format_until(TimePoint t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(t));
}

// Which pids this process can see: a pid means the same process only under one kernel boot and
// one pid namespace (containers on one machine may share a host name but not their pids).
std::string pid_scope() {
  std::string id;
  if (std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    std::array<char, 64> buf{};
    if (std::fgets(buf.data(), int(buf.size()), f) != nullptr) id = buf.data();
    std::fclose(f);
  }
  std::array<char, 64> ns{};
  const ssize_t n = ::readlink("/proc/self/ns/pid", ns.data(), ns.size() - 1);
  if (n > 0) id.append(ns.data(), size_t(n));
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : id) h = (h ^ c) * 16777619u;
  return fmt::format("{:08x}", h);
}

}  // namespace

std::string lease_holder_id(const Clock& clock) {
  const auto us =
      std::chrono::floor<std::chrono::microseconds>(clock.now().time_since_epoch()).count();
  return fmt::format("{}:{}:{}:{}", host_name(), ::getpid(), us, pid_scope());
}

bool holder_gone(const std::string& holder) {
  // host:pid:start:scope, the host being everything before the last three colons.
  size_t cut[3];
  size_t end = holder.size();
  for (size_t& c : cut) {
    c = end == 0 ? std::string::npos : holder.rfind(':', end - 1);
    if (c == std::string::npos || c == 0) return false;
    end = c;
  }
  if (holder.substr(0, cut[2]) != host_name() || holder.substr(cut[0] + 1) != pid_scope())
    return false;
  const std::string pid_text = holder.substr(cut[2] + 1, cut[1] - cut[2] - 1);
  if (pid_text.empty() || pid_text.size() > 9 ||
      pid_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const long pid = std::stol(pid_text);
  if (pid <= 0 || pid == long(::getpid())) return false;
  // A pid that exists, even as another program's after reuse, keeps the lease until it expires.
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

Result<int64_t> release_gone_holders(state::StateStore& store,
                                     const std::vector<state::Task>& tasks,
                                     const std::string& self) {
  std::set<std::string> holders;
  for (const auto& t : tasks)
    if (t.state == state::TaskState::running && !t.lease_holder.empty() && t.lease_holder != self)
      holders.insert(t.lease_holder);
  int64_t freed = 0;
  for (const auto& h : holders) {
    if (!holder_gone(h)) continue;
    const auto n = std::count_if(tasks.begin(), tasks.end(), [&](const state::Task& t) {
      return t.state == state::TaskState::running && t.lease_holder == h;
    });
    if (auto r = store.release_leases(h); !r) return tl::unexpected(r.error());
    spdlog::info("the finsync process {} that held {} tasks is gone; they are free again", h, n);
    freed += n;
  }
  return freed;
}

std::chrono::milliseconds renew_interval(const LeaseSettings& s) {
  return std::max(std::chrono::milliseconds(50), s.duration / 3);
}

asio::awaitable<void> keep_leases(state::StateStore& store, asio::thread_pool& pool,
                                  const Clock& clock, LeaseSettings s, const bool& stop,
                                  bool& running) {
  const auto every = renew_interval(s);
  bool warned = false;
  while (!stop) {
    // Short naps so that the run's end does not wait a whole interval for this loop.
    for (auto slept = std::chrono::milliseconds(0); slept < every && !stop;
         slept += std::chrono::milliseconds(50))
      co_await sleep_for(std::chrono::milliseconds(50));
    if (stop) break;
    auto job = [&]() { return store.renew_leases(s.holder, clock.now() + s.duration); };
    Result<int64_t> r = co_await run_blocking(pool, job);
    if (!r && !warned) {
      // The next renewal may succeed; if none does, the leases lapse and another process takes
      // the tasks, which is what a lease is for.
      spdlog::warn("renewing the task leases of {} failed: {}", s.holder, r.error().message);
      warned = true;
    } else if (r) {
      warned = false;
    }
  }
  running = false;
}

asio::awaitable<Result<bool>> take_writer_lease(state::StateStore& store, asio::thread_pool& pool,
                                                const Clock& clock, const LeaseSettings& s,
                                                const std::string& plan,
                                                const std::string& sink_kind,
                                                std::atomic<bool>& stopping) {
  bool said = false;
  while (!stopping) {
    auto job = [&]() {
      const TimePoint now = clock.now();
      return store.claim_plan_writer(plan, s.holder, now, now + s.duration);
    };
    Result<std::optional<state::Lease>> held = co_await run_blocking(pool, job);
    if (!held) co_return tl::unexpected(held.error());
    if (!*held) {
      if (said) spdlog::info("plan {}: the other process is done; running it", plan);
      co_return true;
    }
    if (holder_gone((*held)->holder)) {
      const std::string gone = (*held)->holder;
      auto free_job = [&store, &gone]() { return store.release_leases(gone); };
      if (auto r = co_await run_blocking(pool, free_job); !r) co_return tl::unexpected(r.error());
      spdlog::info("plan {}: its writer, finsync process {}, is gone; taking over", plan, gone);
      continue;
    }
    if (!said)
      spdlog::warn(
          "waiting: plan {} is being run by another finsync process ({}, lease until {}) and the "
          "{} sink takes one writer; this run starts when that one ends or its lease expires",
          plan, (*held)->holder, format_until((*held)->until), sink_kind);
    said = true;
    co_await sleep_for(std::min(std::chrono::milliseconds(1000), renew_interval(s)));
  }
  co_return false;
}

}  // namespace finsync::engine
