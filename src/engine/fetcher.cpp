#include "engine/fetcher.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "engine/blocking.hpp"

namespace finsync::engine {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, d);
  co_await timer.async_wait(asio::use_awaitable);
}

std::optional<int64_t> header_int(const net::HttpResponse& r, std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  const std::string* h = r.header(name);
  if (h == nullptr) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  return v;
}

}  // namespace

Fetcher::Fetcher(FetcherDeps deps, RetryPolicy policy) : d_(deps), policy_(policy) {}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter) {
  const double base =
      std::min<double>(double(policy.max.count()),
                       double(policy.initial.count()) * (1 << std::clamp(attempt - 1, 0, 20)));
  return std::chrono::milliseconds(int64_t(base * jitter));
}

std::chrono::milliseconds Fetcher::backoff(int attempt) {
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return backoff_delay(policy_, attempt, jitter(rng_));
}

asio::awaitable<bool> Fetcher::pause(std::chrono::milliseconds d) {
  // In slices, so that a stop request never waits for a long rate-limit window to pass.
  const auto until = std::chrono::steady_clock::now() + d;
  while (!d_.stopping) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return true;
    co_await sleep_for(std::min(left, std::chrono::milliseconds(200)));
  }
  co_return false;
}

asio::awaitable<Result<std::optional<int64_t>>> Fetcher::acquire(const std::string& endpoint,
                                                                 int64_t weight) {
  for (;;) {
    // The in-flight cap is this process's: count the request before the ledger round trip so
    // that workers waiting on it cannot all pass the check at once.
    while (held_ || (d_.limits.max_in_flight > 0 && in_flight_ >= d_.limits.max_in_flight))
      if (!co_await pause(std::chrono::milliseconds(held_ ? 50 : 5))) co_return std::nullopt;
    ++in_flight_;
    ++admitting_;
    auto job = [this, &endpoint, weight]() { return d_.limiter.try_acquire(endpoint, weight); };
    Result<ratelimit::Decision> d = co_await run_blocking(d_.ledger_thread, job);
    --admitting_;
    if (!d) {
      --in_flight_;
      co_return fail(d.error());
    }
    if (d->granted) co_return std::optional<int64_t>(d->permit);
    --in_flight_;
    if (d->quota) co_return fail(Error{ErrorKind::quota_exhausted, d->reason, d->retry_at});
    auto wait = std::chrono::milliseconds(20);  // a request in flight must complete first
    if (d->retry_at) {
      wait = std::max(std::chrono::milliseconds(1),
                      std::chrono::ceil<std::chrono::milliseconds>(*d->retry_at - d_.clock.now()));
      if (wait > std::chrono::seconds(2))
        spdlog::debug("{} {}: {}; waiting {} ms", d_.provider.def().name, endpoint, d->reason,
                      wait.count());
    }
    if (!co_await pause(wait)) co_return std::nullopt;
  }
}

Result<void> Fetcher::read_signals(const net::HttpResponse* response, const Error* error) {
  ratelimit::Limiter& limiter = d_.limiter;
  const auto& windows = d_.limits.windows;
  const TimePoint now = d_.clock.now();
  if (response != nullptr) {
    for (size_t i = 0; i < windows.size(); ++i) {
      if (windows[i].used_header.empty()) continue;
      if (auto used = header_int(*response, windows[i].used_header))
        if (auto r = limiter.observe_used(i, *used); !r) return r;
    }
    // The generic X-RateLimit-* family: the window it describes is the one with that limit.
    const auto limit = header_int(*response, "x-ratelimit-limit");
    const auto remaining = header_int(*response, "x-ratelimit-remaining");
    if (limit && remaining && *remaining <= *limit) {
      for (size_t i = 0; i < windows.size(); ++i) {
        if (windows[i].limit != *limit) continue;
        if (auto r = limiter.observe_used(i, *limit - *remaining); !r) return r;
        break;
      }
      const auto reset = header_int(*response, "x-ratelimit-reset");
      if (*remaining == 0 && reset) {
        // Vendors send either seconds to wait or an epoch time in seconds.
        const TimePoint until = *reset > 1'000'000'000 ? TimePoint(std::chrono::seconds(*reset))
                                                       : now + std::chrono::seconds(*reset);
        if (auto r = limiter.block_until("", until, "X-RateLimit-Remaining: 0"); !r) return r;
      }
    }
  }
  if (error != nullptr && error->kind == ErrorKind::rate_limited) {
    for (size_t i = 0; i < windows.size(); ++i) {
      const auto& re = d_.limits.defs[i].limit_in_message_re;
      std::smatch m;
      if (!re || !std::regex_search(error->message, m, *re)) continue;
      int64_t stated = 0;
      const std::string n = m[1].str();
      if (std::from_chars(n.data(), n.data() + n.size(), stated).ec != std::errc()) continue;
      const int64_t configured = limiter.windows()[i].limit;
      if (stated > 0 && stated < configured) {
        limiter.lower_limit(i, stated);
        spdlog::warn("{}: the provider states a limit of {} per {} (configured {}); using {}",
                     d_.provider.def().name, stated, ratelimit::format_duration(windows[i].per),
                     configured, stated);
      }
    }
    // No stated wait: the shortest window's length clears whatever the provider counted.
    Clock_t::duration wait = std::chrono::seconds(60);
    if (!windows.empty())
      wait = std::min_element(windows.begin(), windows.end(), [](const auto& a, const auto& b) {
               return a.per < b.per;
             })->per;
    const TimePoint until = error->retry_at.value_or(now + wait);
    if (auto r = limiter.block_until("", until, "the provider answered: rate limited"); !r)
      return r;
  }
  return {};
}

asio::awaitable<Result<FetchResult>> Fetcher::fetch(const config::EndpointDef& endpoint,
                                                    provider::Params params,
                                                    const std::string& cursor,
                                                    const PageHandler& on_page) {
  const config::PaginationDef& pg = endpoint.pagination;
  const size_t offset_at = params.size() + 1;
  int64_t offset = 0;
  if (pg.kind == "offset") {
    if (!cursor.empty()) {
      auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), offset);
      if (ec != std::errc() || end != cursor.data() + cursor.size() || offset < 0)
        co_return fail(ErrorKind::internal,
                       fmt::format("page checkpoint '{}' is not an offset", cursor));
    }
    params.emplace_back(pg.limit_param, std::to_string(pg.page_size));
    params.emplace_back(pg.offset_param, std::to_string(offset));
  }
  auto request = pg.kind == "next_url" && !cursor.empty()
                     ? d_.provider.build_follow_request(endpoint, cursor)
                     : d_.provider.build_request(endpoint, params);
  if (!request) co_return fail(request.error());
  Result<FetchResult> first = co_await fetch_page(endpoint, params, *request);
  if (!first || pg.kind == "none") co_return first;
  // Every page is a request of its own: its own rate-limit slot, retries and count. The planner
  // bounds a task's rows, so without on_page its pages are gathered into one batch.
  FetchResult out = std::move(*first);
  for (;;) {
    const size_t page_rows = out.last_page_rows;
    std::string next;
    if (pg.kind == "next_url") {
      if (!out.page.next_cursor) break;
      next = *out.page.next_cursor;
      auto follow = d_.provider.build_follow_request(endpoint, next);
      if (!follow) co_return fail(follow.error());
      request = std::move(follow);
    } else {
      if (int64_t(page_rows) < pg.page_size) break;
      offset += pg.page_size;
      next = std::to_string(offset);
      params[offset_at].second = next;
      request = d_.provider.build_request(endpoint, params);
      if (!request) co_return fail(request.error());
    }
    if (on_page) {
      FetchResult page = std::move(out);
      out = FetchResult{};
      out.page.batch = RecordBatch(page.page.batch.schema());
      if (auto h = co_await on_page(page, next); !h) co_return fail(h.error());
    }
    Result<FetchResult> next_page = co_await fetch_page(endpoint, params, *request);
    if (!next_page) co_return next_page;
    out.page.batch.append_rows(next_page->page.batch, 0, next_page->page.batch.num_rows());
    out.page.next_cursor = std::move(next_page->page.next_cursor);
    out.last_page_rows = next_page->last_page_rows;
    out.bytes += next_page->bytes;
    out.requests += next_page->requests;
    out.attempts += next_page->attempts;
  }
  co_return out;
}

asio::awaitable<Result<FetchResult>> Fetcher::fetch_page(const config::EndpointDef& endpoint,
                                                         const provider::Params& params,
                                                         const net::HttpRequest& request) {
  const int64_t weight = endpoint.weight_for(params);
  FetchResult out;
  int attempt = 0;
  for (;;) {
    if (d_.stopping) co_return fail(ErrorKind::cancelled, "stopping: request not sent");
    ++attempt;
    Result<std::optional<int64_t>> slot = co_await acquire(endpoint.name, weight);
    if (!slot) co_return fail(slot.error());
    if (!*slot) co_return fail(ErrorKind::cancelled, "stopping: request not sent");
    const int64_t permit = **slot;
    ++counters_.requests;
    ++out.requests;
    net::HttpRequest req = request;
    Result<net::HttpResponse> response = co_await d_.http.send(std::move(req));
    --in_flight_;
    Result<provider::Page> page = fail(ErrorKind::internal, "no response");
    if (response) {
      reached_ = true;
      counters_.bytes += int64_t(response->body.size());
      out.bytes += int64_t(response->body.size());
      page = d_.provider.parse_response(endpoint, params, *response);
    } else {
      page = fail(response.error());
    }
    const Error* err = page ? nullptr : &page.error();
    const net::HttpResponse* resp = response ? &*response : nullptr;
    auto settle = [this, permit, resp, err]() -> Result<void> {
      if (auto r = d_.limiter.release(permit); !r) return r;
      return read_signals(resp, err);
    };
    Result<void> settled = co_await run_blocking(d_.ledger_thread, settle);
    if (!settled) co_return fail(settled.error());
    if (page) {
      out.page = std::move(*page);
      out.last_page_rows = out.page.batch.num_rows();
      out.attempts = attempt;
      co_return out;
    }
    Error e = page.error();
    if (e.kind == ErrorKind::rate_limited) {
      // Not a failure: the ledger now blocks the account until the window passes, for every
      // worker and every process sharing it.
      ++counters_.rate_limited;
      --attempt;
      spdlog::warn("{} {}: rate limited; waiting until the window passes", d_.provider.def().name,
                   endpoint.name);
      continue;
    }
    if (e.kind == ErrorKind::quota_exhausted) {
      // The provider counts a quota we did not see spent (another client, a smaller tier):
      // count it full until its reset.
      std::optional<size_t> window;
      for (size_t i = 0; i < d_.limits.windows.size(); ++i)
        if (d_.limits.windows[i].quota && d_.limiter.applies(i, endpoint.name)) {
          window = i;
          break;
        }
      if (!window)
        co_return fail(Error{ErrorKind::quota_exhausted,
                             fmt::format("{}; no quota window is configured for it", e.message),
                             e.retry_at.value_or(d_.clock.now() + std::chrono::hours(1))});
      auto mark = [this, window]() { return d_.limiter.mark_spent(*window); };
      if (auto m = co_await run_blocking(d_.ledger_thread, mark); !m) co_return fail(m.error());
      const auto& w = d_.limits.windows[*window];
      const TimePoint reset = w.align == ratelimit::Align::sliding
                                  ? d_.clock.now() + w.per
                                  : ratelimit::period_of(w, d_.clock.now()).second;
      co_return fail(Error{ErrorKind::quota_exhausted,
                           fmt::format("quota {} spent ({}/{}; the provider says: {})", w.name(),
                                       w.limit, w.limit, e.message),
                           e.retry_at.value_or(reset)});
    }
    // An unreachable provider fails fast at the start of a run; once it has answered, a later
    // connection failure is treated as transient.
    const bool retry =
        e.kind == ErrorKind::transient || (e.kind == ErrorKind::unreachable && reached_);
    if (!retry || attempt >= policy_.max_attempts) {
      e.message =
          fmt::format("{} (after {} attempt{})", e.message, attempt, attempt == 1 ? "" : "s");
      co_return fail(std::move(e));
    }
    ++counters_.retries;
    const auto delay = backoff(attempt);
    spdlog::debug("{} {}: {}; retry {} in {} ms", d_.provider.def().name, endpoint.name, e.message,
                  attempt, delay.count());
    const bool waited = co_await pause(delay);
    if (!waited) co_return fail(ErrorKind::cancelled, "stopping: retry not sent");
  }
}

}  // namespace finsync::engine
