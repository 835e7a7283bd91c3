// The limiter on a fake clock: sliding windows (a slot is held from send until `per` after the
// answer), calendar-aligned windows and quotas, weights, blocks, corrections from responses, and
// the ledger shared through a SQLite state file by two limiters (a restart, a second process).
#include <unistd.h>

#include <filesystem>

#include <date/date.h>
#include <gtest/gtest.h>

#include "ratelimit/limiter.hpp"
#include "state/state_store.hpp"

using namespace finsync;
using namespace finsync::ratelimit;
using namespace std::chrono_literals;

namespace {

WindowSpec sliding(int64_t limit, Clock_t::duration per, std::string endpoint = "") {
  WindowSpec w;
  w.endpoint = std::move(endpoint);
  w.limit = limit;
  w.per = per;
  return w;
}

struct Fixture {
  explicit Fixture(std::vector<WindowSpec> windows, TimePoint start = TimePoint(1'000'000s))
      : clock(start),
        ledger(make_memory_ledger()),
        limiter(options(std::move(windows)), *ledger, clock) {}
  static LimiterOptions options(std::vector<WindowSpec> windows) {
    LimiterOptions o;
    o.provider = "p";
    o.windows = std::move(windows);
    return o;
  }
  Decision acquire(const std::string& endpoint = "daily", int64_t weight = 1) {
    auto d = limiter.try_acquire(endpoint, weight);
    EXPECT_TRUE(d.has_value());
    return *d;
  }
  FakeClock clock;
  std::unique_ptr<LedgerStore> ledger;
  Limiter limiter;
};

int64_t used(Limiter& l, size_t i) {
  auto u = l.usage();
  EXPECT_TRUE(u.has_value());
  return (*u)[i].used;
}

}  // namespace

TEST(Limiter, AdmitsUpToTheLimitThenNamesTheTime) {
  Fixture f({sliding(3, 60s)});
  std::vector<int64_t> permits;
  for (int i = 0; i < 3; ++i) {
    auto d = f.acquire();
    ASSERT_TRUE(d.granted);
    permits.push_back(d.permit);
  }
  auto full = f.acquire();
  EXPECT_FALSE(full.granted);
  EXPECT_FALSE(full.retry_at.has_value());  // everything in flight: wait for an answer
  f.clock.advance(2s);
  ASSERT_TRUE(f.limiter.release(permits[0]));  // answered at t0+2s: its slot frees at t0+62s
  f.clock.advance(1s);
  ASSERT_TRUE(f.limiter.release(permits[1]));
  auto d = f.acquire();
  ASSERT_FALSE(d.granted);
  EXPECT_EQ(*d.retry_at, TimePoint(1'000'062s));
  EXPECT_FALSE(d.quota.has_value());
  f.clock.set(TimePoint(1'000'062s));
  EXPECT_TRUE(f.acquire().granted);
  EXPECT_EQ(used(f.limiter, 0), 3);
}

TEST(Limiter, EveryWindowMustAdmit) {
  Fixture f({sliding(10, 1s), sliding(2, 60s, "daily")});
  auto a = f.acquire("daily");
  auto b = f.acquire("daily");
  ASSERT_TRUE(a.granted && b.granted);
  ASSERT_TRUE(f.limiter.release(a.permit));
  ASSERT_TRUE(f.limiter.release(b.permit));
  EXPECT_FALSE(f.acquire("daily").granted);     // endpoint window full
  EXPECT_TRUE(f.acquire("trade_cal").granted);  // account window still has room
  EXPECT_EQ(used(f.limiter, 0), 3);
  EXPECT_EQ(used(f.limiter, 1), 2);
}

TEST(Limiter, WeightsCount) {
  Fixture f({sliding(10, 60s)});
  auto a = f.acquire("depth", 5);
  auto b = f.acquire("depth", 5);
  ASSERT_TRUE(a.granted && b.granted);
  EXPECT_FALSE(f.acquire("klines", 1).granted);
  ASSERT_TRUE(f.limiter.release(a.permit));
  f.clock.advance(60s);
  EXPECT_TRUE(f.acquire("klines", 5).granted);
}

TEST(Limiter, BlockAfterRateLimitAnswer) {
  Fixture f({sliding(100, 1s)}, TimePoint(100s));
  ASSERT_TRUE(f.limiter.block_until("", TimePoint(130s), "HTTP 429"));
  auto d = f.acquire();
  ASSERT_FALSE(d.granted);
  EXPECT_EQ(*d.retry_at, TimePoint(130s));
  EXPECT_EQ(d.reason, "HTTP 429");
  f.clock.set(TimePoint(130s));
  EXPECT_TRUE(f.acquire().granted);
}

TEST(Limiter, EpochAlignedQuotaParksUntilThePeriodEnds) {
  WindowSpec day = sliding(3, 30s);
  day.align = Align::epoch;
  day.quota = true;
  Fixture f({day}, TimePoint(1'000'010s));  // periods start at multiples of 30 s: 1'000'020s
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.acquire().granted);
  auto d = f.acquire();
  ASSERT_FALSE(d.granted);
  ASSERT_TRUE(d.quota.has_value());
  EXPECT_EQ(*d.retry_at, TimePoint(1'000'020s));
  EXPECT_EQ(d.reason, "quota 3/30s@epoch spent (3/3)");
  // Near the turn of a period nothing goes: the provider could count it in either period.
  f.clock.set(TimePoint(1'000'020s));
  auto edge = f.acquire();
  ASSERT_FALSE(edge.granted);
  EXPECT_FALSE(edge.quota.has_value());
  EXPECT_EQ(*edge.retry_at, TimePoint(1'000'020'600ms));
  f.clock.set(TimePoint(1'000'020'600ms));
  EXPECT_TRUE(f.acquire().granted);
  EXPECT_EQ(used(f.limiter, 0), 1);
  f.clock.set(TimePoint(1'000'049'500ms));
  EXPECT_EQ(*f.acquire().retry_at, TimePoint(1'000'050'600ms));
}

TEST(Limiter, ClockResetInATimeZone) {
  // 10 per day, reset at 00:00 Asia/Shanghai (UTC+8): 2026-11-25T15:59:59Z is 23:59:59 local.
  WindowSpec day = sliding(2, 24h);
  day.align = Align::clock;
  day.zone = "Asia/Shanghai";
  day.quota = true;
  const TimePoint t = date::sys_days(date::year(2026) / 11 / 25) + 15h + 59min + 59s;
  auto [start, end] = period_of(day, t);
  EXPECT_EQ(start, date::sys_days(date::year(2026) / 11 / 24) + 16h);
  EXPECT_EQ(end, date::sys_days(date::year(2026) / 11 / 25) + 16h);
  day.reset_offset = 9h + 30min;  // 09:30 local = 01:30Z
  std::tie(start, end) = period_of(day, t);
  EXPECT_EQ(start, date::sys_days(date::year(2026) / 11 / 25) + 1h + 30min);
  EXPECT_EQ(end, date::sys_days(date::year(2026) / 11 / 26) + 1h + 30min);
  EXPECT_EQ(day.name(), "2/1d@09:30 Asia/Shanghai");
}

TEST(Limiter, ResetRejectsUnknownZones) {
  EXPECT_TRUE(parse_reset("00:00 Asia/Shanghai").has_value());
  auto bad = parse_reset("00:00 Asia/Shangai");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("unknown time zone 'Asia/Shangai'"), std::string::npos);
  EXPECT_FALSE(parse_reset("24:00 UTC").has_value());
}

TEST(Limiter, ReportedUsageRaisesTheCount) {
  WindowSpec minute = sliding(1200, 60s);
  minute.align = Align::epoch;
  Fixture f({minute, sliding(10, 10s)}, TimePoint(610s));
  ASSERT_TRUE(f.limiter.observe_used(0, 1199));
  ASSERT_TRUE(f.limiter.observe_used(1, 4));
  ASSERT_TRUE(f.limiter.observe_used(1, 2));  // never lowered
  EXPECT_EQ(used(f.limiter, 0), 1199);
  EXPECT_EQ(used(f.limiter, 1), 4);
  EXPECT_TRUE(f.acquire("klines", 1).granted);
  auto d = f.acquire("klines", 1);
  ASSERT_FALSE(d.granted);
  EXPECT_EQ(*d.retry_at, TimePoint(660s));
  ASSERT_TRUE(f.limiter.mark_spent(1));
  EXPECT_EQ(used(f.limiter, 1), 10);
}

// A simulated run: 500 requests with random answer delays never put more than `limit` sends in
// any window of `per`, counted the way a provider counts them (by arrival).
TEST(Limiter, NoWindowEverOverTheLimit) {
  Fixture f({sliding(7, 10s)}, TimePoint(0s));
  std::vector<TimePoint> sends;
  std::vector<std::pair<TimePoint, int64_t>> in_flight;
  uint64_t seed = 12345;
  auto rnd = [&]() {
    return (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33;
  };
  while (sends.size() < 500) {
    auto d = f.acquire("x");
    if (d.granted) {
      sends.push_back(f.clock.now());
      in_flight.emplace_back(f.clock.now() + std::chrono::milliseconds(rnd() % 3000), d.permit);
      continue;
    }
    f.clock.advance(100ms);
    for (auto it = in_flight.begin(); it != in_flight.end();) {
      if (it->first <= f.clock.now()) {
        ASSERT_TRUE(f.limiter.release(it->second));
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

// The ledger lives in the state file: a limiter opened after a restart, or by a second process,
// sees what the first one spent.
TEST(Limiter, LedgerInTheStateStoreIsShared) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("finsync-ledger-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "state.db").string();
  auto store = state::open_sqlite_state(path);
  ASSERT_TRUE(store.has_value()) << store.error().message;
  auto ledger_a = (*store)->open_ledger();
  auto ledger_b = (*store)->open_ledger();
  ASSERT_TRUE(ledger_a && ledger_b);
  WindowSpec day = sliding(5, 30s);
  day.align = Align::epoch;
  day.quota = true;
  FakeClock clock(TimePoint(1'000'021s));
  Limiter a(Fixture::options({sliding(3, 10s), day}), **ledger_a, clock);
  Limiter b(Fixture::options({sliding(3, 10s), day}), **ledger_b, clock);
  auto a1 = a.try_acquire("daily");
  auto b1 = b.try_acquire("daily");
  auto a2 = a.try_acquire("daily");
  ASSERT_TRUE(a1 && a1->granted && b1 && b1->granted && a2 && a2->granted);
  auto b2 = b.try_acquire("daily");  // the sliding window holds three, two of them a's
  ASSERT_TRUE(b2.has_value());
  EXPECT_FALSE(b2->granted);
  clock.advance(1s);
  ASSERT_TRUE(a.release(a1->permit));
  ASSERT_TRUE(b.release(b1->permit));
  ASSERT_TRUE(a.release(a2->permit));
  clock.advance(10s);
  ASSERT_TRUE(b.try_acquire("daily")->granted);
  ASSERT_TRUE(a.try_acquire("daily")->granted);
  // Five spent in this 30-second "day": a limiter that starts now (a restart) is parked.
  auto ledger_c = (*store)->open_ledger();
  ASSERT_TRUE(ledger_c.has_value());
  Limiter c(Fixture::options({sliding(3, 10s), day}), **ledger_c, clock);
  auto d = c.try_acquire("daily");
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->granted);
  ASSERT_TRUE(d->quota.has_value());
  EXPECT_EQ(*d->retry_at, TimePoint(1'000'050s));
  auto u = c.usage();
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ((*u)[1].used, 5);
  // A block set by one process holds back the other.
  ASSERT_TRUE(a.block_until("", TimePoint(1'000'100s), "HTTP 418"));
  clock.set(TimePoint(1'000'060s));
  auto blocked = b.try_acquire("daily");
  ASSERT_TRUE(blocked.has_value());
  EXPECT_FALSE(blocked->granted);
  EXPECT_EQ(blocked->reason, "HTTP 418");
  store->reset();
  std::filesystem::remove_all(dir);
}
