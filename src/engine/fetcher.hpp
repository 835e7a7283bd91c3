#pragma once
// The framework side of a request: pacing under the limiter, transport, classification and
// retries with exponential backoff and jitter. Providers only build requests and map responses.
#include <atomic>
#include <chrono>
#include <optional>
#include <random>

#include <boost/asio/awaitable.hpp>

#include "core/clock.hpp"
#include "net/http_client.hpp"
#include "provider/provider.hpp"
#include "ratelimit/limiter.hpp"

namespace finsync::engine {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30'000};
};

struct FetchCounters {
  int64_t requests = 0;      // sent
  int64_t retries = 0;       // re-sent after a transient error
  int64_t rate_limited = 0;  // answers that said "slow down"
  int64_t bytes = 0;         // response bytes received
};

struct FetchResult {
  provider::Page page;
  int64_t bytes = 0;
  int64_t requests = 0;
  int attempts = 0;
};

class Fetcher {
 public:
  Fetcher(provider::Provider& provider, net::HttpClient& http, ratelimit::Limiter& limiter,
          const Clock& clock, RetryPolicy policy, const std::atomic<bool>& stopping);

  boost::asio::awaitable<Result<FetchResult>> fetch(const config::EndpointDef& endpoint,
                                                    provider::Params params);

  const FetchCounters& counters() const { return counters_; }
  provider::Provider& provider() { return provider_; }

 private:
  // A permit, or nullopt when the run is stopping.
  boost::asio::awaitable<std::optional<uint64_t>> acquire(const config::EndpointDef& endpoint);
  // Waits `d`; false when the run started stopping meanwhile.
  boost::asio::awaitable<bool> pause(std::chrono::milliseconds d);
  std::chrono::milliseconds backoff(int attempt);

  provider::Provider& provider_;
  net::HttpClient& http_;
  ratelimit::Limiter& limiter_;
  const Clock& clock_;
  RetryPolicy policy_;
  const std::atomic<bool>& stopping_;
  FetchCounters counters_;
  bool reached_ = false;  // the provider answered at least once in this process
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace finsync::engine
