// Backoff before a re-send after a transient error: exponential, capped, scaled by the jitter.
#include <gtest/gtest.h>

#include "engine/fetcher.hpp"

using namespace finsync::engine;
using namespace std::chrono_literals;

TEST(Backoff, DoublesPerAttemptUpToTheCap) {
  const RetryPolicy p{5, 500ms, 30s};
  EXPECT_EQ(backoff_delay(p, 1, 1.0), 500ms);
  EXPECT_EQ(backoff_delay(p, 2, 1.0), 1000ms);
  EXPECT_EQ(backoff_delay(p, 3, 1.0), 2000ms);
  EXPECT_EQ(backoff_delay(p, 6, 1.0), 16000ms);
  EXPECT_EQ(backoff_delay(p, 7, 1.0), 30000ms);  // 32 s capped
  EXPECT_EQ(backoff_delay(p, 1000, 1.0), 30000ms);
  EXPECT_EQ(backoff_delay(p, 0, 1.0), 500ms);
}

TEST(Backoff, JitterScalesTheWholeDelay) {
  const RetryPolicy p{5, 500ms, 30s};
  EXPECT_EQ(backoff_delay(p, 1, 0.5), 250ms);
  EXPECT_EQ(backoff_delay(p, 3, 0.75), 1500ms);
  EXPECT_EQ(backoff_delay(p, 9, 0.5), 15000ms);
}
