#include "core/failpoint.hpp"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace finsync::failpoint {

namespace {

enum class Action { none, kill, error };

struct Armed {
  Action action = Action::none;
  int64_t at = 1;  // the hit that triggers
};

// Written by configure() before any site runs (start-up, or a unit test between cases).
std::array<Armed, kPoints.size()> g_armed{};
std::array<std::atomic<int64_t>, kPoints.size()> g_hits{};

std::string known_names() {
  std::vector<std::string> names;
  for (const Point& p : kPoints) names.emplace_back(p.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

Result<std::pair<size_t, Armed>> parse_one(std::string_view item) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::invalid_input,
                fmt::format("FINSYNC_FAILPOINTS: '{}': {}; expected NAME:kill or NAME:error, "
                            "optionally @N (the Nth hit, from 1); known failpoints: {}",
                            item, why, known_names()));
  };
  const size_t colon = item.find(':');
  if (colon == std::string_view::npos) return bad("no action");
  const std::string_view name = item.substr(0, colon);
  std::string_view action = item.substr(colon + 1);
  size_t index = kPoints.size();
  for (size_t i = 0; i < kPoints.size(); ++i)
    if (kPoints[i].name == name) index = i;
  if (index == kPoints.size()) return bad("unknown failpoint");
  Armed a;
  if (const size_t at = action.find('@'); at != std::string_view::npos) {
    const std::string_view n = action.substr(at + 1);
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), a.at);
    if (ec != std::errc() || end != n.data() + n.size() || a.at < 1)
      return bad("the hit number must be a whole number from 1");
    action = action.substr(0, at);
  }
  if (action == "kill")
    a.action = Action::kill;
  else if (action == "error")
    a.action = Action::error;
  else
    return bad("unknown action");
  return std::pair{index, a};
}

}  // namespace

namespace detail {
std::atomic<bool> armed{false};

Result<void> hit_slow(size_t index) {
  const int64_t n = g_hits[index].fetch_add(1, std::memory_order_relaxed) + 1;
  const Armed& a = g_armed[index];
  if (a.action == Action::none || n != a.at) return {};
  if (a.action == Action::kill) {
    // The test reads this line to count the hits; SIGKILL leaves no chance to flush later.
    std::fprintf(stderr, "finsync: failpoint %.*s hit %lld: SIGKILL\n",
                 int(kPoints[index].name.size()), kPoints[index].name.data(),
                 static_cast<long long>(n));
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
  }
  return fail(ErrorKind::internal,
              fmt::format("failpoint {} hit {}: injected error", kPoints[index].name, n));
}
}  // namespace detail

Result<void> configure(std::string_view spec) {
  std::array<Armed, kPoints.size()> next{};
  bool any = false;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    auto one = parse_one(item);
    if (!one) return fail(one.error());
    next[one->first] = one->second;
    any = true;
  }
  detail::armed.store(false, std::memory_order_relaxed);
  g_armed = next;
  for (auto& h : g_hits) h.store(0, std::memory_order_relaxed);
  detail::armed.store(any, std::memory_order_relaxed);
  return {};
}

Result<void> configure_from_env() {
  const char* v = std::getenv("FINSYNC_FAILPOINTS");
  return v ? configure(v) : Result<void>{};
}

int64_t hits(size_t index) {
  return g_hits[index].load(std::memory_order_relaxed);
}

}  // namespace finsync::failpoint
