// Window splitting: trading days only, every window under the row cap, re-split in halves.
#include <gtest/gtest.h>

#include "core/dates.hpp"
#include "plan/planner.hpp"

using namespace finsync;
using namespace finsync::plan;

namespace {

int32_t d(const char* iso) {
  return *dates::parse_iso(iso);
}

// Mon-Fri except the listed holidays, over 2015..2016.
TradingCalendar calendar_with_holidays(std::vector<int32_t> holidays) {
  std::vector<int32_t> open;
  for (int32_t x = d("2015-01-01"); x <= d("2016-12-31"); ++x)
    if (dates::weekday(x) < 5 && std::find(holidays.begin(), holidays.end(), x) == holidays.end())
      open.push_back(x);
  return TradingCalendar(open);
}

}  // namespace

TEST(Dates, ParseAndFormat) {
  EXPECT_EQ(dates::parse("20150105", "%Y%m%d"), d("2015-01-05"));
  EXPECT_EQ(dates::format(d("2015-01-05"), "%Y%m%d"), "20150105");
  EXPECT_EQ(dates::parse("2015-02-29", "%Y-%m-%d"), std::nullopt);
  EXPECT_EQ(dates::parse("2016-02-29", "%Y-%m-%d"), d("2016-02-29"));
  EXPECT_EQ(dates::parse("2015010", "%Y%m%d"), std::nullopt);
  EXPECT_EQ(dates::weekday(d("2015-01-05")), 0);  // a Monday
  EXPECT_EQ(dates::year_of(d("2015-12-31")), 2015);
}

TEST(Calendar, WeekdaysWithoutCalendar) {
  TradingCalendar weekdays;
  EXPECT_EQ(weekdays.count(d("2015-01-05"), d("2015-01-11")), 5);
  EXPECT_EQ(weekdays.count(d("2015-01-01"), d("2015-12-31")), 261);
}

TEST(Planner, WindowsStayUnderTheCapOnTradingDays) {
  TradingCalendar cal = calendar_with_holidays({d("2015-01-01"), d("2015-01-02")});
  PlanInput in;
  in.plan = "p";
  in.symbol_param = "ts_code";
  in.symbols = {Symbol{"A", {}, {}, "L"}};
  in.start_day = d("2015-01-01");
  in.end_day = d("2015-03-31");
  in.max_rows = 21;  // 20 trading days per window
  in.calendar = &cal;
  auto tasks = plan_tasks(in, {});
  // Trading days Jan 5 .. Mar 31 2015: 62 -> windows of 20, 20, 20, 2.
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks[0].start_day, d("2015-01-05"));  // holidays and the weekend skipped
  EXPECT_EQ(tasks[0].end_day, d("2015-01-30"));
  EXPECT_EQ(tasks[0].id, "p/A/20150105-20150130");
  EXPECT_EQ(tasks[0].params_json, R"({"ts_code":"A"})");
  int64_t total = 0;
  for (const auto& t : tasks) {
    EXPECT_LE(cal.count(t.start_day, t.end_day), 20);
    total += cal.count(t.start_day, t.end_day);
  }
  EXPECT_EQ(total, 62);
  EXPECT_EQ(tasks[3].end_day, d("2015-03-31"));
}

TEST(Planner, ListingDatesClipWindows) {
  TradingCalendar cal = calendar_with_holidays({});
  PlanInput in;
  in.plan = "p";
  in.symbol_param = "ts_code";
  in.symbols = {Symbol{"NEW", d("2015-06-01"), {}, "L"}, Symbol{"GONE", {}, d("2015-03-02"), "D"},
                Symbol{"LATE", d("2017-01-01"), {}, "L"}};
  in.start_day = d("2015-01-01");
  in.end_day = d("2015-12-31");
  in.max_rows = 6000;
  in.calendar = &cal;
  auto tasks = plan_tasks(in, {});
  ASSERT_EQ(tasks.size(), 2u);  // LATE lists after the range: no task
  EXPECT_EQ(tasks[0].id, "p/NEW/20150601-20151231");
  EXPECT_EQ(tasks[1].id, "p/GONE/20150101-20150227");  // trades until the day before delisting
}

TEST(Planner, EditedRangeAddsOnlyUncoveredWindows) {
  TradingCalendar cal = calendar_with_holidays({});
  PlanInput in;
  in.plan = "p";
  in.symbol_param = "ts_code";
  in.symbols = {Symbol{"A", {}, {}, "L"}};
  in.start_day = d("2015-01-01");
  in.end_day = d("2015-06-30");
  in.max_rows = 6000;
  in.calendar = &cal;
  auto first = plan_tasks(in, {});
  ASSERT_EQ(first.size(), 1u);
  in.start_day = d("2014-12-01");  // outside the calendar: weekdays unknown -> no open days
  in.end_day = d("2015-12-31");
  in.symbols.push_back(Symbol{"B", {}, {}, "L"});
  auto more = plan_tasks(in, first);
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].id, "p/A/20150701-20151231");
  EXPECT_EQ(more[1].id, "p/B/20150101-20151231");
}

TEST(Planner, FixedWindowOverride) {
  TradingCalendar cal = calendar_with_holidays({});
  PlanInput in;
  in.plan = "p";
  in.start_day = d("2015-01-01");
  in.end_day = d("2016-12-31");
  in.window = "1y";
  in.calendar = &cal;
  auto tasks = plan_tasks(in, {});
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].id, "p/20150101-20151231");
  EXPECT_EQ(tasks[1].id, "p/20160101-20161230");
}

TEST(Planner, SplitInHalvesByTradingDays) {
  TradingCalendar cal = calendar_with_holidays({});
  state::Task t;
  t.plan = "p";
  t.id = "p/A/20150105-20150116";
  t.params_json = R"({"ts_code":"A"})";
  t.start_day = d("2015-01-05");
  t.end_day = d("2015-01-16");  // 10 trading days
  auto halves = split_in_half(t, cal);
  ASSERT_TRUE(halves.has_value());
  ASSERT_EQ(halves->size(), 2u);
  EXPECT_EQ((*halves)[0].id, "p/A/20150105-20150109");
  EXPECT_EQ((*halves)[1].id, "p/A/20150112-20150116");
  EXPECT_EQ((*halves)[1].parent, t.id);
  t.end_day = t.start_day;
  auto single = split_in_half(t, cal);
  ASSERT_FALSE(single.has_value());
  EXPECT_EQ(single.error().kind, ErrorKind::permanent);
}

TEST(Planner, IntradayBarsOnAContinuousCalendar) {
  // Binance: every day trades, 1h bars under a 1000-row cap.
  std::vector<int32_t> every_day;
  for (int32_t day = d("2024-01-01"); day <= d("2024-03-31"); ++day) every_day.push_back(day);
  TradingCalendar cal(every_day);
  PlanInput in;
  in.plan = "k";
  in.symbol_param = "symbol";
  in.symbols = {Symbol{"BTCUSDT", {}, {}, ""}};
  in.start_day = d("2024-01-01");
  in.end_day = d("2024-03-31");
  in.max_rows = 1000;
  in.rows_per_day = 24;
  in.calendar = &cal;
  auto tasks = plan_tasks(in, {});
  // 91 days in windows of 999 / 24 = 41 days, weekends included: 41, 41, 9.
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].end_day, d("2024-02-10"));
  EXPECT_EQ(tasks[1].start_day, d("2024-02-11"));
  EXPECT_EQ(tasks[2].start_day, d("2024-03-23"));
  EXPECT_EQ(tasks[2].end_day, d("2024-03-31"));
}

TEST(Planner, WholeRangePerSymbolWhenTheApiHasNoWindow) {
  // Alpha Vantage outputsize=full: one call per symbol, whatever the range.
  TradingCalendar cal;
  PlanInput in;
  in.plan = "av";
  in.symbol_param = "symbol";
  in.symbols = {Symbol{"IBM", {}, {}, ""}, Symbol{"MSFT", {}, {}, ""}};
  in.start_day = d("2000-01-01");
  in.end_day = d("2024-12-31");
  in.whole_range = true;
  in.window = "1m";
  auto tasks = plan_tasks(in, {});
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].id, "av/IBM/20000103-20241231");
  EXPECT_EQ(tasks[1].start_day, d("2000-01-03"));
  EXPECT_EQ(tasks[1].end_day, d("2024-12-31"));
}
