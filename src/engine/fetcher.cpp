#include "engine/fetcher.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace finsync::engine {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, d);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

Fetcher::Fetcher(provider::Provider& provider, net::HttpClient& http, ratelimit::Limiter& limiter,
                 const Clock& clock, RetryPolicy policy, const std::atomic<bool>& stopping)
    : provider_(provider),
      http_(http),
      limiter_(limiter),
      clock_(clock),
      policy_(policy),
      stopping_(stopping) {}

std::chrono::milliseconds Fetcher::backoff(int attempt) {
  // Exponential with "equal jitter": half fixed, half random, so retries of many tasks spread.
  const double base =
      std::min<double>(double(policy_.max.count()),
                       double(policy_.initial.count()) * (1 << std::min(attempt - 1, 20)));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return std::chrono::milliseconds(int64_t(base * jitter(rng_)));
}

asio::awaitable<bool> Fetcher::pause(std::chrono::milliseconds d) {
  // In slices, so that a stop request never waits for a long rate-limit window to pass.
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return true;
    co_await sleep_for(std::min(left, std::chrono::milliseconds(200)));
  }
  co_return false;
}

asio::awaitable<std::optional<uint64_t>> Fetcher::acquire(const config::EndpointDef& endpoint) {
  for (;;) {
    ratelimit::Decision d = limiter_.try_acquire(endpoint.name, endpoint.weight);
    if (d.granted) co_return d.permit;
    auto wait = std::chrono::milliseconds(20);  // a request in flight must complete first
    if (d.retry_at)
      wait = std::max(std::chrono::milliseconds(1),
                      std::chrono::ceil<std::chrono::milliseconds>(*d.retry_at - clock_.now()));
    if (!co_await pause(wait)) co_return std::nullopt;
  }
}

asio::awaitable<Result<FetchResult>> Fetcher::fetch(const config::EndpointDef& endpoint,
                                                    provider::Params params) {
  auto request = provider_.build_request(endpoint, params);
  if (!request) co_return fail(request.error());
  FetchResult out;
  int attempt = 0;
  for (;;) {
    if (stopping_) co_return fail(ErrorKind::cancelled, "stopping: request not sent");
    ++attempt;
    const std::optional<uint64_t> slot = co_await acquire(endpoint);
    if (!slot) co_return fail(ErrorKind::cancelled, "stopping: request not sent");
    const uint64_t permit = *slot;
    ++counters_.requests;
    ++out.requests;
    net::HttpRequest req = *request;
    Result<net::HttpResponse> response = co_await http_.send(std::move(req));
    limiter_.release(permit);
    Result<provider::Page> page = fail(ErrorKind::internal, "no response");
    if (response) {
      reached_ = true;
      counters_.bytes += int64_t(response->body.size());
      out.bytes += int64_t(response->body.size());
      page = provider_.parse_response(endpoint, *response);
    } else {
      page = fail(response.error());
    }
    if (page) {
      out.page = std::move(*page);
      out.attempts = attempt;
      co_return out;
    }
    Error err = page.error();
    if (err.kind == ErrorKind::rate_limited) {
      // Not a failure: wait out the window, and send nothing else to this account until then.
      ++counters_.rate_limited;
      --attempt;
      const TimePoint until = err.retry_at.value_or(clock_.now() + std::chrono::seconds(60));
      limiter_.block_until("", until);
      spdlog::warn("{} {}: rate limited; waiting until the window passes", provider_.def().name,
                   endpoint.name);
      continue;
    }
    // An unreachable provider fails fast at the start of a run; once it has answered, a later
    // connection failure is treated as transient.
    const bool retry =
        err.kind == ErrorKind::transient || (err.kind == ErrorKind::unreachable && reached_);
    if (!retry || attempt >= policy_.max_attempts) {
      err.message =
          fmt::format("{} (after {} attempt{})", err.message, attempt, attempt == 1 ? "" : "s");
      co_return fail(std::move(err));
    }
    ++counters_.retries;
    const auto delay = backoff(attempt);
    spdlog::debug("{} {}: {}; retry {} in {} ms", provider_.def().name, endpoint.name, err.message,
                  attempt, delay.count());
    const bool waited = co_await pause(delay);
    if (!waited) co_return fail(ErrorKind::cancelled, "stopping: retry not sent");
  }
}

}  // namespace finsync::engine
