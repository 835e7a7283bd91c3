#include "ratelimit/limiter.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace finsync::ratelimit {

Limiter::Limiter(LimiterOptions options, LedgerStore& ledger, const Clock& clock)
    : options_(std::move(options)), ledger_(ledger), clock_(clock) {}

bool Limiter::applies(size_t i, const std::string& endpoint) const {
  const WindowSpec& w = options_.windows[i];
  return (w.account.empty() || w.account == options_.account) &&
         (w.endpoint.empty() || w.endpoint == endpoint);
}

bool Limiter::slot_counts(const Slot& x, size_t i) const {
  const WindowSpec& w = options_.windows[i];
  return (w.account.empty() || w.account == x.account) &&
         (w.endpoint.empty() || w.endpoint == x.endpoint);
}

TimePoint Limiter::prune_before(TimePoint now) const {
  Clock_t::duration longest{0};
  for (const auto& w : options_.windows)
    if (w.align == Align::sliding) longest = std::max(longest, w.per);
  return now - longest;
}

Result<void> Limiter::transact(const std::function<void(LedgerState&, TimePoint)>& fn) {
  const TimePoint now = clock_.now();
  return ledger_.transact(options_.provider, now, prune_before(now),
                          [&](LedgerState& s) { fn(s, now); });
}

int64_t Limiter::sliding_used(const LedgerState& s, size_t i, TimePoint now) const {
  const auto per = options_.windows[i].per;
  int64_t n = 0;
  for (const auto& x : s.slots)
    if (slot_counts(x, i) && (x.done ? *x.done + per > now : x.stale_after > now)) n += x.weight;
  return n;
}

Counter& Limiter::counter(LedgerState& s, size_t i, TimePoint now) const {
  const WindowSpec& w = options_.windows[i];
  const std::string name = w.name();
  const TimePoint start = period_of(w, now).first;
  auto it = std::find_if(s.counters.begin(), s.counters.end(),
                         [&](const Counter& c) { return c.window == name; });
  if (it == s.counters.end()) {
    s.counters.push_back(Counter{name, start, 0, true});
    return s.counters.back();
  }
  if (it->period_start != start) *it = Counter{name, start, 0, true};
  return *it;
}

Result<Decision> Limiter::try_acquire(const std::string& endpoint, int64_t weight) {
  Decision out;
  auto decide = [&](LedgerState& s, TimePoint now) {
    for (const auto& b : s.blocks) {
      if ((b.account.empty() || b.account == options_.account) &&
          (b.endpoint.empty() || b.endpoint == endpoint) && b.until > now &&
          (!out.retry_at || b.until > *out.retry_at)) {
        out.retry_at = b.until;
        out.reason = b.reason;
      }
    }
    if (out.retry_at) return;
    bool in_flight = false;
    for (size_t i = 0; i < options_.windows.size(); ++i) {
      if (!applies(i, endpoint)) continue;
      const WindowSpec& w = options_.windows[i];
      // A request heavier than the whole window may go when the window is empty.
      const int64_t need = std::min(weight, w.limit);
      if (w.align != Align::sliding) {
        const auto [start, reset] = period_of(w, now);
        // The provider's clock and the network put a request sent at the edge of a period into
        // either period: send none near the edges, so each lands in the period it is counted in.
        const auto guard = std::min<Clock_t::duration>(std::chrono::seconds(1), w.per / 50);
        if (now < start + guard || now >= reset - guard) {
          const TimePoint t = now < start + guard ? start + guard : reset + guard;
          if (!out.quota && (!out.retry_at || t > *out.retry_at)) {
            out.retry_at = t;
            out.reason = fmt::format("window {} turns over", w.name());
          }
          continue;
        }
        const Counter& c = counter(s, i, now);
        if (c.used + need <= w.limit) continue;
        if (w.quota && !out.quota) {
          out.quota = i;
          out.retry_at = reset;
          out.reason = fmt::format("quota {} spent ({}/{})", w.name(), c.used, w.limit);
        } else if (!out.quota && (!out.retry_at || reset > *out.retry_at)) {
          out.retry_at = reset;
          out.reason = fmt::format("window {} full", w.name());
        }
        continue;
      }
      const int64_t used = sliding_used(s, i, now);
      if (used + need <= w.limit) continue;
      // Free enough weight: walk answered slots by expiry until the excess is gone.
      std::vector<std::pair<TimePoint, int64_t>> expiries;
      for (const auto& x : s.slots)
        if (slot_counts(x, i) && x.done && *x.done + w.per > now)
          expiries.emplace_back(*x.done + w.per, x.weight);
      std::sort(expiries.begin(), expiries.end());
      int64_t excess = used + need - w.limit;
      std::optional<TimePoint> t;
      for (const auto& [when, wt] : expiries) {
        excess -= wt;
        if (excess <= 0) {
          t = when;
          break;
        }
      }
      if (!t) {
        in_flight = true;
        if (out.reason.empty())
          out.reason = fmt::format("window {} full of requests in flight", w.name());
      } else if (!out.quota && (!out.retry_at || *t > *out.retry_at)) {
        if (w.quota) {
          out.quota = i;
          out.reason = fmt::format("quota {} spent ({}/{})", w.name(), used, w.limit);
        } else {
          out.reason = fmt::format("window {} full", w.name());
        }
        out.retry_at = t;
      }
    }
    if (out.quota) return;
    if (in_flight) {
      out.retry_at.reset();
      return;
    }
    if (out.retry_at) return;
    for (size_t i = 0; i < options_.windows.size(); ++i) {
      if (applies(i, endpoint) && options_.windows[i].align != Align::sliding) {
        Counter& c = counter(s, i, now);
        c.used += weight;
        c.dirty = true;
      }
    }
    Slot x;
    x.id = int64_t(ids_() >> 1) + 1;
    x.account = options_.account;
    x.endpoint = endpoint;
    x.weight = weight;
    x.sent = now;
    x.stale_after = now + options_.in_flight_timeout;
    x.added = true;
    s.slots.push_back(std::move(x));
    out.granted = true;
    out.permit = s.slots.back().id;
  };
  if (auto r = transact(decide); !r) return fail(r.error());
  return out;
}

Result<void> Limiter::release(int64_t permit) {
  return transact([&](LedgerState& s, TimePoint now) {
    for (auto& x : s.slots) {
      if (x.id == permit) {
        x.done = now;
        x.dirty = true;
        return;
      }
    }
  });
}

Result<void> Limiter::block_until(const std::string& endpoint, TimePoint until,
                                  const std::string& reason) {
  return transact([&](LedgerState& s, TimePoint) {
    for (auto& b : s.blocks) {
      if (b.account == options_.account && b.endpoint == endpoint) {
        if (until > b.until) {
          b.until = until;
          b.reason = reason;
          b.dirty = true;
        }
        return;
      }
    }
    s.blocks.push_back(Block{options_.account, endpoint, until, reason, true});
  });
}

Result<void> Limiter::observe_used(size_t i, int64_t used) {
  return transact([&](LedgerState& s, TimePoint now) {
    const WindowSpec& w = options_.windows[i];
    if (w.align != Align::sliding) {
      Counter& c = counter(s, i, now);
      if (used > c.used) {
        c.used = used;
        c.dirty = true;
      }
      return;
    }
    const int64_t ours = sliding_used(s, i, now);
    if (used <= ours) return;
    // Weight the provider counted and we did not (another client on the key): a slot that
    // counts it for one window length from now.
    Slot x;
    x.id = int64_t(ids_() >> 1) + 1;
    x.account = options_.account;
    x.endpoint = w.endpoint;
    x.weight = used - ours;
    x.sent = now;
    x.done = now;
    x.stale_after = now;
    x.added = true;
    s.slots.push_back(std::move(x));
  });
}

Result<void> Limiter::mark_spent(size_t i) {
  return observe_used(i, options_.windows[i].limit);
}

Result<std::vector<Usage>> Limiter::usage() {
  std::vector<Usage> out;
  auto r = transact([&](LedgerState& s, TimePoint now) {
    for (size_t i = 0; i < options_.windows.size(); ++i) {
      const WindowSpec& w = options_.windows[i];
      Usage u{w.name(), 0, w.limit, std::nullopt};
      if (w.align == Align::sliding) {
        u.used = sliding_used(s, i, now);
      } else {
        u.used = counter(s, i, now).used;
        u.resets_at = period_of(w, now).second;
      }
      out.push_back(std::move(u));
    }
  });
  if (!r) return fail(r.error());
  return out;
}

}  // namespace finsync::ratelimit
