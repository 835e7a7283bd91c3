// The ETA of `finsync status`: requests left under what each window has spent, the parking,
// and the last run's rate; the slower bound wins.
#include <gtest/gtest.h>

#include "engine/eta.hpp"

using namespace finsync;
using namespace finsync::engine;
using namespace std::chrono_literals;

namespace {

ratelimit::WindowSpec window(int64_t limit, Clock_t::duration per, ratelimit::Align align,
                             std::string endpoint = "") {
  ratelimit::WindowSpec w;
  w.limit = limit;
  w.per = per;
  w.align = align;
  w.endpoint = std::move(endpoint);
  return w;
}

}  // namespace

TEST(Eta, SlidingWindowFromNothingSpentMatchesThePlanEstimate) {
  EtaInput in;
  in.requests = 40;
  in.endpoint = "daily";
  in.windows = {window(8, 1s, ratelimit::Align::sliding)};
  const Eta e = estimate_eta(in);
  // 8 at once, then 32 more in 4 seconds of 8: the same as `plan estimate` (ceil(40/8) - 1).
  EXPECT_TRUE(e.known);
  EXPECT_DOUBLE_EQ(e.limit_seconds, 4.0);
  EXPECT_EQ(e.limit_window, "8/1s");
  EXPECT_DOUBLE_EQ(e.run_seconds, -1);
  EXPECT_FALSE(e.bound_by_run);
  EXPECT_DOUBLE_EQ(e.seconds, 4.0);
}

TEST(Eta, SpentQuotaWaitsForItsResetThenFullPeriods) {
  EtaInput in;
  in.requests = 25;
  in.endpoint = "daily";
  in.now = TimePoint(1'000'018s);
  in.windows = {window(100, 1min, ratelimit::Align::sliding),
                window(10, 30s, ratelimit::Align::epoch)};
  in.usage = {{"100/1m", 4, 100, std::nullopt}, {"10/30s@epoch", 7, 10, TimePoint(1'000'030s)}};
  const Eta e = estimate_eta(in);
  // 3 fit the day that is left; 22 more need 3 days: the first begins at the reset in 12 s.
  EXPECT_DOUBLE_EQ(e.limit_seconds, 12.0 + 2 * 30.0);
  EXPECT_EQ(e.limit_window, "10/30s@epoch");
  EXPECT_DOUBLE_EQ(e.seconds, 72.0);
}

TEST(Eta, TheLastRunsRateBoundsWhenItIsSlower) {
  EtaInput in;
  in.requests = 25;
  in.endpoint = "daily";
  in.windows = {window(10, 1s, ratelimit::Align::sliding)};
  in.achieved_rate = 0.25;
  Eta e = estimate_eta(in);
  EXPECT_DOUBLE_EQ(e.limit_seconds, 2.0);
  EXPECT_DOUBLE_EQ(e.run_seconds, 100.0);
  EXPECT_TRUE(e.bound_by_run);
  EXPECT_DOUBLE_EQ(e.seconds, 100.0);
  in.achieved_rate = 50;  // faster than the limits allow: the limits bound
  e = estimate_eta(in);
  EXPECT_DOUBLE_EQ(e.run_seconds, 0.5);
  EXPECT_FALSE(e.bound_by_run);
  EXPECT_DOUBLE_EQ(e.seconds, 2.0);
}

TEST(Eta, WeightsAndEndpointWindows) {
  EtaInput in;
  in.requests = 12;
  in.weight = 2;
  in.endpoint = "klines";
  in.windows = {window(10, 1min, ratelimit::Align::sliding),
                window(1, 1h, ratelimit::Align::sliding, "depth")};
  const Eta e = estimate_eta(in);
  // 5 requests of weight 2 per minute; the depth window does not apply.
  EXPECT_DOUBLE_EQ(e.limit_seconds, 2 * 60.0);
  EXPECT_EQ(e.limit_window, "10/1m");
}

TEST(Eta, ParkedPlanWaitsAtLeastUntilItResumes) {
  EtaInput in;
  in.requests = 3;
  in.endpoint = "daily";
  in.now = TimePoint(1'000s);
  in.resume_at = TimePoint(1'050s);
  in.windows = {window(100, 1min, ratelimit::Align::sliding)};
  EXPECT_DOUBLE_EQ(estimate_eta(in).seconds, 50.0);
}

TEST(Eta, UnknownWithoutWindowsOrRuns) {
  EtaInput in;
  in.requests = 3;
  in.endpoint = "daily";
  EXPECT_FALSE(estimate_eta(in).known);
  in.achieved_rate = 1.5;
  const Eta e = estimate_eta(in);
  EXPECT_TRUE(e.known);
  EXPECT_TRUE(e.bound_by_run);
  EXPECT_DOUBLE_EQ(e.seconds, 2.0);
  in.requests = 0;
  in.achieved_rate = 0;
  EXPECT_TRUE(estimate_eta(in).known);
  EXPECT_DOUBLE_EQ(estimate_eta(in).seconds, 0.0);
}
