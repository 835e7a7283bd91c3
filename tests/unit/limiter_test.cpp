// Sliding-window pacing on a fake clock: a slot is held from send until `per` after the answer.
#include <gtest/gtest.h>

#include "ratelimit/limiter.hpp"

using namespace finsync;
using namespace finsync::ratelimit;
using namespace std::chrono_literals;

TEST(Limiter, AdmitsUpToTheLimitThenNamesTheTime) {
  FakeClock clock(TimePoint(1'000'000s));
  Limiter l({WindowSpec{"", 3, 60s}}, clock);
  std::vector<uint64_t> permits;
  for (int i = 0; i < 3; ++i) {
    auto d = l.try_acquire("daily");
    ASSERT_TRUE(d.granted);
    permits.push_back(d.permit);
  }
  auto full = l.try_acquire("daily");
  EXPECT_FALSE(full.granted);
  EXPECT_FALSE(full.retry_at.has_value());  // everything in flight: wait for an answer
  clock.advance(2s);
  l.release(permits[0]);  // answered at t0+2s: its slot frees at t0+62s
  clock.advance(1s);
  l.release(permits[1]);
  auto d = l.try_acquire("daily");
  ASSERT_FALSE(d.granted);
  EXPECT_EQ(*d.retry_at, TimePoint(1'000'062s));
  clock.set(TimePoint(1'000'062s));
  EXPECT_TRUE(l.try_acquire("daily").granted);
  EXPECT_EQ(l.used(0), 3);
}

TEST(Limiter, EveryWindowMustAdmit) {
  FakeClock clock(TimePoint(0s));
  Limiter l({WindowSpec{"", 10, 1s}, WindowSpec{"daily", 2, 60s}}, clock);
  auto a = l.try_acquire("daily");
  auto b = l.try_acquire("daily");
  ASSERT_TRUE(a.granted && b.granted);
  l.release(a.permit);
  l.release(b.permit);
  EXPECT_FALSE(l.try_acquire("daily").granted);     // endpoint window full
  EXPECT_TRUE(l.try_acquire("trade_cal").granted);  // account window still has room
  EXPECT_EQ(l.used(0), 3);
  EXPECT_EQ(l.used(1), 2);
}

TEST(Limiter, WeightsCount) {
  FakeClock clock(TimePoint(0s));
  Limiter l({WindowSpec{"", 10, 60s}}, clock);
  auto a = l.try_acquire("depth", 5);
  auto b = l.try_acquire("depth", 5);
  ASSERT_TRUE(a.granted && b.granted);
  EXPECT_FALSE(l.try_acquire("klines", 1).granted);
  l.release(a.permit);
  clock.advance(60s);
  EXPECT_TRUE(l.try_acquire("klines", 5).granted);
}

TEST(Limiter, BlockAfterRateLimitAnswer) {
  FakeClock clock(TimePoint(100s));
  Limiter l({WindowSpec{"", 100, 1s}}, clock);
  l.block_until("", TimePoint(130s));
  auto d = l.try_acquire("daily");
  ASSERT_FALSE(d.granted);
  EXPECT_EQ(*d.retry_at, TimePoint(130s));
  clock.set(TimePoint(130s));
  EXPECT_TRUE(l.try_acquire("daily").granted);
}

// A simulated run: 500 requests with random answer delays never put more than `limit` sends in
// any window of `per`, counted the way a provider counts them (by arrival).
TEST(Limiter, NoWindowEverOverTheLimit) {
  FakeClock clock(TimePoint(0s));
  Limiter l({WindowSpec{"", 7, 10s}}, clock);
  std::vector<TimePoint> sends;
  std::vector<std::pair<TimePoint, uint64_t>> in_flight;
  uint64_t seed = 12345;
  auto rnd = [&]() {
    return (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33;
  };
  while (sends.size() < 500) {
    auto d = l.try_acquire("x");
    if (d.granted) {
      sends.push_back(clock.now());
      in_flight.emplace_back(clock.now() + std::chrono::milliseconds(rnd() % 3000), d.permit);
      continue;
    }
    clock.advance(100ms);
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (it->first <= clock.now()) {
        l.release(it->second);
        it = in_flight.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (size_t i = 0; i < sends.size(); ++i) {
    size_t n = 0;
    for (size_t j = i; j < sends.size() && sends[j] < sends[i] + 10s; ++j) ++n;
    ASSERT_LE(n, 7u) << "window starting at send " << i;
  }
}
