#include "ratelimit/limiter.hpp"

#include <algorithm>

namespace finsync::ratelimit {

Limiter::Limiter(std::vector<WindowSpec> windows, const Clock& clock) : clock_(clock) {
  for (auto& w : windows) windows_.push_back(WindowState{std::move(w), 0, {}});
}

void Limiter::expire(WindowState& w, TimePoint now) const {
  while (!w.done.empty() && w.done.front().expires <= now) w.done.pop_front();
}

bool Limiter::applies(const WindowState& w, const std::string& endpoint) const {
  return w.spec.endpoint.empty() || w.spec.endpoint == endpoint;
}

int64_t Limiter::used(size_t i) const {
  WindowState& w = windows_[i];
  expire(w, clock_.now());
  int64_t n = w.in_flight;
  for (const auto& s : w.done) n += s.weight;
  return n;
}

Decision Limiter::try_acquire(const std::string& endpoint, int64_t weight) {
  const TimePoint now = clock_.now();
  std::optional<TimePoint> wait_until;
  for (const auto& key : {std::string(), endpoint}) {
    auto it = blocked_.find(key);
    if (it != blocked_.end() && it->second > now)
      wait_until = std::max(wait_until.value_or(it->second), it->second);
  }
  if (wait_until) return Decision{false, 0, wait_until};

  std::vector<size_t> hit;
  bool blocked_by_in_flight = false;
  for (size_t i = 0; i < windows_.size(); ++i) {
    WindowState& w = windows_[i];
    if (!applies(w, endpoint)) continue;
    hit.push_back(i);
    expire(w, now);
    int64_t used_now = w.in_flight;
    for (const auto& s : w.done) used_now += s.weight;
    // A request heavier than the whole window may go when the window is empty.
    const int64_t need = std::min(weight, w.spec.limit);
    if (used_now + need <= w.spec.limit) continue;
    // Free enough weight: walk expiries in order until the excess is gone.
    int64_t excess = used_now + need - w.spec.limit;
    std::optional<TimePoint> t;
    for (const auto& s : w.done) {
      excess -= s.weight;
      if (excess <= 0) {
        t = s.expires;
        break;
      }
    }
    if (t)
      wait_until = std::max(wait_until.value_or(*t), *t);
    else
      blocked_by_in_flight = true;
  }
  if (blocked_by_in_flight) return Decision{false, 0, std::nullopt};
  if (wait_until) return Decision{false, 0, wait_until};
  for (size_t i : hit) windows_[i].in_flight += weight;
  const uint64_t id = next_permit_++;
  permits_.emplace(id, Permit{std::move(hit), weight});
  return Decision{true, id, std::nullopt};
}

void Limiter::release(uint64_t permit) {
  auto it = permits_.find(permit);
  if (it == permits_.end()) return;
  const TimePoint now = clock_.now();
  for (size_t i : it->second.windows) {
    WindowState& w = windows_[i];
    w.in_flight -= it->second.weight;
    Slot s{now + w.spec.per, it->second.weight};
    // Slots of one window share `per`, so appending keeps the deque ordered by expiry.
    w.done.push_back(s);
  }
  permits_.erase(it);
}

void Limiter::block_until(const std::string& endpoint, TimePoint until) {
  auto& t = blocked_[endpoint];
  t = std::max(t, until);
}

}  // namespace finsync::ratelimit
