#pragma once
// The framework side of a request: pacing under the limiter (whose ledger decisions run on the
// ledger thread), transport, classification, reading the provider's rate-limit signals back into
// the ledger, and retries with exponential backoff and jitter. Providers only build requests and
// map responses.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/clock.hpp"
#include "engine/limits.hpp"
#include "net/http_client.hpp"
#include "provider/provider.hpp"
#include "ratelimit/limiter.hpp"

namespace finsync::engine {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
};

// The wait before re-send `attempt` + 1: initial x 2^(attempt-1), at most `max`, times `jitter`
// (drawn from [0.5, 1): half fixed, half random, so retries of many tasks spread out).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter);

struct FetchCounters {
  int64_t requests = 0;      // sent
  int64_t retries = 0;       // re-sent after a transient error
  int64_t rate_limited = 0;  // answers that said "slow down"
  int64_t bytes = 0;         // response bytes received
};

struct FetchResult {
  provider::Page page;  // every page of a paginated answer, gathered
  int64_t bytes = 0;
  int64_t requests = 0;
  int attempts = 0;
  size_t last_page_rows = 0;  // offset pagination: a short page is the last
};

struct FetcherDeps {
  provider::Provider& provider;
  net::HttpClient& http;
  ratelimit::Limiter& limiter;
  const AccountLimits& limits;
  boost::asio::thread_pool& ledger_thread;
  const Clock& clock;
  const std::atomic<bool>& stopping;
};

// A paginated answer's pages before the last, one at a time: the page (its rows, bytes and
// requests) and the cursor of the page after it. An error stops the fetch with that error.
using PageHandler =
    std::function<boost::asio::awaitable<Result<void>>(FetchResult& page, const std::string& next)>;

class Fetcher {
 public:
  Fetcher(FetcherDeps deps, RetryPolicy policy);

  // quota_exhausted (retry_at = the reset) when a quota window is spent: nothing was sent.
  // Follows the endpoint's pagination to the last page, starting at `cursor` when it is set (a
  // page checkpoint: the next_url, or the offset as a number). With `on_page`, each page that
  // has a successor goes to it and leaves the result, which then holds the last page only.
  boost::asio::awaitable<Result<FetchResult>> fetch(const config::EndpointDef& endpoint,
                                                    provider::Params params,
                                                    const std::string& cursor = {},
                                                    const PageHandler& on_page = {});

  // `finsync pause`: a request not admitted yet waits until the hold is lifted (a stop still
  // ends the wait). Requests in flight are not touched.
  void set_held(bool held) { held_ = held; }
  // A request is between the hold check and the limiter's answer: a permit granted now is sent,
  // so a pause is only in force once this is false.
  bool admitting() const { return admitting_ > 0; }
  // Requests sent and not answered yet.
  int in_flight() const { return in_flight_ - admitting_; }

  const FetchCounters& counters() const { return counters_; }
  provider::Provider& provider() { return d_.provider; }
  ratelimit::Limiter& limiter() { return d_.limiter; }
  boost::asio::thread_pool& ledger_thread() { return d_.ledger_thread; }

 private:
  // One request with its pacing and retries.
  boost::asio::awaitable<Result<FetchResult>> fetch_page(const config::EndpointDef& endpoint,
                                                         const provider::Params& params,
                                                         const net::HttpRequest& request);
  // A permit; nullopt when the run is stopping; an error for a spent quota or a ledger failure.
  boost::asio::awaitable<Result<std::optional<int64_t>>> acquire(const std::string& endpoint,
                                                                 int64_t weight);
  // Waits `d`; false when the run started stopping meanwhile.
  boost::asio::awaitable<bool> pause(std::chrono::milliseconds d);
  std::chrono::milliseconds backoff(int attempt);
  // Headers and messages that state the provider's own count; a rate-limit answer blocks the
  // account until its window passes.
  Result<void> read_signals(const net::HttpResponse* response, const Error* error);

  FetcherDeps d_;
  RetryPolicy policy_;
  FetchCounters counters_;
  int in_flight_ = 0;
  bool held_ = false;
  int admitting_ = 0;
  bool reached_ = false;  // the provider answered at least once in this process
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace finsync::engine
