// Keeping a plan current: publication days, refresh windows from high-water marks, how far the
// marks move, and verify's gaps and extras.
#include <gtest/gtest.h>

#include "config/plan_def.hpp"
#include "config/provider_def.hpp"
#include "core/dates.hpp"
#include "engine/incremental.hpp"
#include "engine/verify.hpp"
#include "plan/param_set.hpp"

using namespace finsync;
using namespace finsync::engine;

namespace {

int32_t d(const char* iso) {
  return *dates::parse_iso(iso);
}

TimePoint at_utc(const char* iso, int hh, int mm) {
  return TimePoint(std::chrono::days(d(iso)) + std::chrono::hours(hh) + std::chrono::minutes(mm));
}

// Weekdays of 2024-01 and 2024-02 except 2024-01-15.
plan::TradingCalendar calendar() {
  std::vector<int32_t> open;
  for (int32_t x = d("2024-01-01"); x <= d("2024-02-29"); ++x)
    if (dates::weekday(x) < 5 && x != d("2024-01-15")) open.push_back(x);
  return plan::TradingCalendar(open);
}

config::PlanDef plan_def(int lookback) {
  config::PlanDef p;
  p.name = "p";
  p.start_day = d("2024-01-02");
  p.end_day = d("2024-01-19");
  p.end_today = true;
  p.lookback = lookback;
  return p;
}

config::EndpointDef endpoint() {
  config::EndpointDef ep;
  ep.symbol_param = "ts_code";
  ep.available_after = std::chrono::minutes(16 * 60);
  ep.zone = "Asia/Shanghai";
  return ep;
}

std::string one(const std::string& code) {
  return plan::params_json("ts_code", plan::ParamSet::one(code));
}

state::Task task(const std::string& code, const char* a, const char* b, state::TaskState s) {
  state::Task t = plan::make_task("p", "ts_code", plan::ParamSet::one(code), d(a), d(b));
  t.state = s;
  return t;
}

}  // namespace

TEST(DayClock, TodayAndPublishedInTheEndpointZone) {
  const config::EndpointDef ep = endpoint();
  // 07:59 UTC is 15:59 in Shanghai: today is not out yet.
  DayClock c = day_clock(ep, at_utc("2024-01-18", 7, 59));
  EXPECT_EQ(c.today, d("2024-01-18"));
  EXPECT_EQ(c.published, d("2024-01-17"));
  c = day_clock(ep, at_utc("2024-01-18", 8, 0));
  EXPECT_EQ(c.published, d("2024-01-18"));
  // 17:00 UTC is already the next day in Shanghai.
  c = day_clock(ep, at_utc("2024-01-18", 17, 0));
  EXPECT_EQ(c.today, d("2024-01-19"));
  EXPECT_EQ(c.published, d("2024-01-18"));
  config::EndpointDef always;
  c = day_clock(always, at_utc("2024-01-18", 0, 1));
  EXPECT_EQ(c.today, d("2024-01-18"));
  EXPECT_EQ(c.published, d("2024-01-18"));
}

TEST(Refresh, LookbackTradingDaysBeforeTheMarkThroughTheEnd) {
  const auto cal = calendar();
  std::vector<plan::Symbol> symbols = {{"A", {}, {}, "L"}, {"B", {}, d("2024-01-05"), "D"}};
  // A's mark is Tuesday 16th: 3 trading days back skip the closed Monday 15th.
  const std::map<std::string, int32_t> marks = {{one("A"), d("2024-01-16")},
                                                {one("B"), d("2024-01-04")}};
  auto tasks = refresh_tasks(plan_def(3), endpoint(), marks, symbols, cal, d("2024-01-19"));
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].start_day, d("2024-01-11"));
  EXPECT_EQ(tasks[0].end_day, d("2024-01-19"));
  EXPECT_EQ(tasks[0].params_json, one("A"));
  // B's last rows (the 2nd to the 4th) are in its window, which starts at the plan's start.
  EXPECT_EQ(tasks[1].start_day, d("2024-01-02"));
  EXPECT_EQ(tasks[1].params_json, one("B"));
  // Lookback 0: only the days after the mark; B has none before its delisting on the 5th.
  tasks = refresh_tasks(plan_def(0), endpoint(), marks, symbols, cal, d("2024-01-19"));
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].start_day, d("2024-01-17"));
  // A mark at the end with lookback 0: nothing to fetch.
  tasks = refresh_tasks(plan_def(0), endpoint(), {{one("A"), d("2024-01-19")}}, symbols, cal,
                        d("2024-01-19"));
  EXPECT_TRUE(tasks.empty());
}

TEST(Refresh, EverySymbolByDateIsOneTaskPerTradingDay) {
  const auto cal = calendar();
  const std::string all = plan::params_json("ts_code", plan::ParamSet::all(0));
  auto tasks =
      refresh_tasks(plan_def(2), endpoint(), {{all, d("2024-01-16")}}, {}, cal, d("2024-01-17"));
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].start_day, d("2024-01-12"));
  EXPECT_EQ(tasks[1].start_day, d("2024-01-16"));
  EXPECT_EQ(tasks[2].start_day, d("2024-01-17"));
  for (const auto& t : tasks) EXPECT_EQ(t.start_day, t.end_day);
}

TEST(Marks, OnlyCompleteParameterSetsAndNeverPastPublication) {
  using S = state::TaskState;
  std::vector<state::Task> tasks = {task("A", "2024-01-02", "2024-01-10", S::succeeded),
                                    task("A", "2024-01-11", "2024-01-19", S::succeeded),
                                    task("B", "2024-01-02", "2024-01-10", S::succeeded),
                                    task("B", "2024-01-11", "2024-01-19", S::pending),
                                    task("C", "2024-01-02", "2024-01-12", S::succeeded),
                                    task("C", "2024-01-02", "2024-01-19", S::split)};
  const auto marks = marks_from(tasks, d("2024-01-18"));
  EXPECT_EQ(marks, (std::map<std::string, int32_t>{{one("A"), d("2024-01-18")},
                                                   {one("C"), d("2024-01-12")}}));
  EXPECT_EQ(provisional_tasks(tasks, d("2024-01-18")), 1);
}

TEST(Verify, GapsExtrasListingsAndConfirmedEmptyDays) {
  using S = state::TaskState;
  const auto cal = calendar();
  config::PlanDef p = plan_def(3);
  p.end_today = false;
  std::vector<plan::Symbol> symbols = {{"A", d("2024-01-01"), {}, "L"},
                                       {"B", d("2024-01-10"), d("2024-01-17"), "D"}};
  std::map<std::string, std::vector<int32_t>> landed;
  for (int32_t x = d("2024-01-02"); x <= d("2024-01-19"); ++x)
    if (cal.is_open(x) && x != d("2024-01-08") && x != d("2024-01-09") && x != d("2024-01-12"))
      landed["A"].push_back(x);
  landed["A"].push_back(d("2024-01-13"));  // a Saturday
  // B: listed on the 10th, delisted on the 17th (its last row is the 16th); a row on the 17th.
  landed["B"] = {d("2024-01-10"), d("2024-01-11"), d("2024-01-12"), d("2024-01-16"),
                 d("2024-01-17")};
  VerifyReport rep = verify_landed(p, symbols, cal, d("2024-01-19"), landed, {});
  EXPECT_EQ(rep.symbols, 2);
  EXPECT_EQ(rep.gap_days, 3);
  EXPECT_EQ(rep.extra_rows, 2);
  ASSERT_EQ(rep.issues.size(), 2u);
  ASSERT_EQ(rep.issues[0].gaps.size(), 2u);
  EXPECT_EQ(rep.issues[0].gaps[0].first, d("2024-01-08"));
  EXPECT_EQ(rep.issues[0].gaps[0].last, d("2024-01-09"));
  EXPECT_EQ(rep.issues[0].gaps[0].days, 2);
  EXPECT_EQ(rep.issues[0].gaps[1].first, d("2024-01-12"));
  EXPECT_EQ(rep.issues[0].extra, std::vector<int32_t>{d("2024-01-13")});
  EXPECT_TRUE(rep.issues[1].gaps.empty());
  EXPECT_EQ(rep.issues[1].extra, std::vector<int32_t>{d("2024-01-17")});

  const auto fixes = fix_tasks(p, endpoint(), rep);
  ASSERT_EQ(fixes.size(), 2u);
  EXPECT_TRUE(is_fix_task(fixes[0]));
  EXPECT_EQ(fixes[0].start_day, d("2024-01-08"));
  EXPECT_EQ(fixes[0].end_day, d("2024-01-09"));
  EXPECT_EQ(fixes[0].params_json, one("A"));

  // The fix fetched the 12th again and the provider has no row: no longer a gap.
  state::Task fixed = fixes[1];
  fixed.state = S::succeeded;
  rep = verify_landed(p, symbols, cal, d("2024-01-19"), landed, {fixed});
  EXPECT_EQ(rep.gap_days, 2);
  EXPECT_EQ(rep.confirmed_empty, 1);
}

TEST(PlanRange, EndTodayTakesALookbackAFixedEndDoesNot) {
  const std::string head =
      "name: p\nprovider: tushare\nendpoint: daily\nuniverse: { symbols: [A] }\n"
      "sink: { kind: duckdb }\n";
  auto p = config::parse_plan(head + "range: { start: 2024-01-02, end: today, lookback: 5 }\n",
                              "p.yaml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->end_today);
  EXPECT_EQ(p->lookback, 5);
  p = config::parse_plan(head + "range: { start: 2024-01-02, end: today }\n", "p.yaml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->lookback, 3);
  p = config::parse_plan(head + "range: { start: 2024-01-02, end: 2024-02-01, lookback: 5 }\n",
                         "p.yaml");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "p.yaml:6:56: range.lookback: `lookback` applies to a range that ends `today`; this "
            "one ends on a fixed date");
}

TEST(PlanRange, AvailableAfterNeedsATimeAndAZone) {
  const std::string head = R"(provider: x
base_url: http://127.0.0.1:1
rows: { kind: objects, items: $.data }
endpoints:
  bars:
    columns: { sym: string, d: date }
    primary_key: [sym, d]
)";
  auto p = config::parse_provider(head + "    available_after: \"15:30 America/New_York\"\n",
                                  "providers/x.yaml");
  ASSERT_TRUE(p) << p.error().message;
  const config::EndpointDef& ep = p->endpoints.at("bars");
  EXPECT_EQ(ep.available_after, std::chrono::minutes(15 * 60 + 30));
  EXPECT_EQ(ep.zone, "America/New_York");
  p = config::parse_provider(head + "    available_after: \"16:00 Asia/Shangai\"\n",
                             "providers/x.yaml");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message,
            "providers/x.yaml:8:22: endpoints.bars.available_after: '16:00 Asia/Shangai': unknown "
            "time zone 'Asia/Shangai'; expected \"HH:MM Area/City\" such as \"00:00 "
            "Asia/Shanghai\"");
}
