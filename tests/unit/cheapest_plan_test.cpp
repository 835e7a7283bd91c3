// The planner's strategies: exact task counts for given calendars, universes and caps, the
// choice between them, what an edit plans, and the rules a run cuts by (re-split after a
// capped answer, widening after a sparse one, rows of answers by date).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "plan/cut_rules.hpp"
#include "plan/param_set.hpp"
#include "plan/planner.hpp"

using namespace finsync;
using namespace finsync::plan;

namespace {

int32_t d(const char* iso) {
  return *dates::parse_iso(iso);
}

// Every weekday of 2014..2016 is open: 2015 has 261 of them, 129 before July.
const TradingCalendar& weekdays() {
  static const TradingCalendar cal = [] {
    std::vector<int32_t> open;
    for (int32_t x = d("2014-01-01"); x <= d("2016-12-31"); ++x)
      if (dates::weekday(x) < 5) open.push_back(x);
    return TradingCalendar(open);
  }();
  return cal;
}

Symbol sym(std::string code) {
  return Symbol{std::move(code), {}, {}, "", 0};
}

std::vector<Symbol> symbols(int n, const char* prefix = "S", int width = 2) {
  std::vector<Symbol> out;
  for (int i = 0; i < n; ++i) out.push_back(sym(fmt::format("{}{:0{}}", prefix, i, width)));
  return out;
}

PlanInput input_2015(std::vector<Symbol> universe, int64_t max_rows) {
  PlanInput in;
  in.plan = "p";
  in.symbol_param = "ts_code";
  in.symbols = std::move(universe);
  in.start_day = d("2015-01-01");
  in.end_day = d("2015-12-31");
  in.max_rows = max_rows;
  in.calendar = &weekdays();
  in.strategies = {Strategy::symbol_window, Strategy::symbol_list, Strategy::date_all_symbols};
  return in;
}

const StrategyCost& cost(const PlanChoice& c, Strategy s) {
  for (const auto& x : c.costs)
    if (x.strategy == s) return x;
  static const StrategyCost none{};
  ADD_FAILURE() << "no cost for " << to_string(s);
  return none;
}

int64_t count_kind(const std::vector<state::Task>& tasks, ParamSet::Kind k) {
  return std::count_if(tasks.begin(), tasks.end(),
                       [&](const state::Task& t) { return param_set(t).kind == k; });
}

}  // namespace

TEST(CheapestPlan, ListsWinWhenFewSymbolsShareTheCap) {
  // 10 symbols, 261 trading days, 999 rows per request: one request per symbol; five symbols
  // per list need 199-day windows (5 x 199 = 995 rows); by date, 261 requests.
  PlanInput in = input_2015(symbols(10), 1000);
  in.list_max = 5;
  in.market = &in.symbols;
  const PlanChoice c = choose_plan(in, {});
  EXPECT_EQ(cost(c, Strategy::symbol_window).requests, 10);
  EXPECT_EQ(cost(c, Strategy::symbol_list).requests, 4);
  EXPECT_EQ(cost(c, Strategy::date_all_symbols).requests, 261);
  for (const auto& x : c.costs) EXPECT_EQ(x.rows_fetched, 10 * 261);
  EXPECT_EQ(c.chosen, Strategy::symbol_list);
  ASSERT_EQ(c.tasks.size(), 4u);
  EXPECT_EQ(c.tasks[0].id, "p/S00+4.c96eeff0/20150101-20151006");
  EXPECT_EQ(c.tasks[0].params_json, R"({"ts_code":["S00","S01","S02","S03","S04"]})");
  EXPECT_EQ(c.tasks[1].start_day, d("2015-10-07"));
  EXPECT_EQ(c.tasks[1].end_day, d("2015-12-31"));
  EXPECT_EQ(param_set(c.tasks[2]).symbols,
            (std::vector<std::string>{"S05", "S06", "S07", "S08", "S09"}));
}

TEST(CheapestPlan, ByDateWinsWhenTheMarketFillsARequestPerDay) {
  // 3000 symbols: 261 requests by date; lists of 10 take the whole year each (2610 rows), 300
  // of them; one symbol per request, 3000.
  PlanInput in = input_2015(symbols(3000, "S", 4), 6000);
  in.list_max = 10;
  in.market = &in.symbols;
  const PlanChoice c = choose_plan(in, {});
  EXPECT_EQ(cost(c, Strategy::symbol_window).requests, 3000);
  EXPECT_EQ(cost(c, Strategy::symbol_list).requests, 300);
  EXPECT_EQ(cost(c, Strategy::date_all_symbols).requests, 261);
  EXPECT_EQ(c.chosen, Strategy::date_all_symbols);
  ASSERT_EQ(c.tasks.size(), 261u);
  EXPECT_EQ(c.tasks[0].id, "p/*/20150101-20150101");
  EXPECT_EQ(c.tasks[0].params_json, R"({"all_symbols":0})");
  EXPECT_EQ(c.tasks[260].start_day, d("2015-12-31"));
}

TEST(CheapestPlan, ADayOverTheCapIsCutBySymbolInstead) {
  // 100 symbols trade all year, 50 more list on 2015-07-01; 100 rows per request. By date, the
  // 129 days before July fit (100 rows); from July the market holds 150 symbols, so those days
  // are cut by symbol: 150 symbols x 2 windows (100 + 32 days). One symbol per request alone:
  // 100 x 3 windows (100, 100, 61) + 50 x 2 = 400, fewer than 129 + 300.
  std::vector<Symbol> u = symbols(150, "S", 3);
  for (int i = 100; i < 150; ++i) u[i].list_day = d("2015-07-01");
  PlanInput in = input_2015(u, 101);
  in.strategies = {Strategy::symbol_window, Strategy::date_all_symbols};
  in.market = &in.symbols;
  PlanChoice c = choose_plan(in, {});
  EXPECT_EQ(cost(c, Strategy::symbol_window).requests, 400);
  EXPECT_EQ(cost(c, Strategy::date_all_symbols).requests, 429);
  EXPECT_EQ(c.chosen, Strategy::symbol_window);
  in.forced = Strategy::date_all_symbols;
  c = choose_plan(in, {});
  EXPECT_EQ(c.chosen, Strategy::date_all_symbols);
  ASSERT_EQ(c.tasks.size(), 429u);
  EXPECT_EQ(count_kind(c.tasks, ParamSet::Kind::all), 129);
  for (const auto& t : c.tasks) {
    if (param_set(t).kind == ParamSet::Kind::all)
      EXPECT_LT(t.start_day, d("2015-07-01")) << t.id;
    else
      EXPECT_GE(t.start_day, d("2015-07-01")) << t.id;  // nothing fetched twice
  }
  // No day's rows by date may reach the cap: 100 rows per symbol-day of the 100.
  EXPECT_EQ(cost(c, Strategy::date_all_symbols).rows_fetched, 100 * 261 + 50 * 132);
}

TEST(CheapestPlan, ASubsetOfTheMarketCountsEveryRowByDateButLandsItsOwn) {
  // 3 symbols of a 50-symbol market: by date costs a request per day and fetches 50 rows each.
  std::vector<Symbol> market = symbols(50);
  PlanInput in = input_2015({market[3], market[7], market[9]}, 6000);
  in.list_max = 100;
  in.market = &market;
  PlanChoice c = choose_plan(in, {});
  EXPECT_EQ(cost(c, Strategy::symbol_window).requests, 3);
  EXPECT_EQ(cost(c, Strategy::symbol_list).requests, 1);
  const StrategyCost& by_date = cost(c, Strategy::date_all_symbols);
  EXPECT_EQ(by_date.requests, 261);
  EXPECT_EQ(by_date.rows_fetched, 50 * 261);
  EXPECT_EQ(by_date.rows_landed, 3 * 261);
  EXPECT_EQ(c.chosen, Strategy::symbol_list);
  // Without the market's list, answers by date cannot be priced.
  in.market = nullptr;
  c = choose_plan(in, {});
  EXPECT_EQ(c.costs.size(), 2u);
  EXPECT_EQ(c.note, "date_all_symbols: the market's symbols are not known in this run");
}

TEST(CheapestPlan, SymbolsOutsideTheMarketListAreCutBySymbol) {
  // The market list lacks X: an answer by date holds no row of it.
  std::vector<Symbol> market = symbols(3000, "S", 4);
  PlanInput in = input_2015(market, 6000);
  in.symbols.push_back(sym("X"));
  in.list_max = 10;
  in.market = &market;
  in.forced = Strategy::date_all_symbols;
  const PlanChoice c = choose_plan(in, {});
  ASSERT_EQ(c.tasks.size(), 262u);
  EXPECT_EQ(c.tasks.back().id, "p/X/20150101-20151231");
}

TEST(CheapestPlan, AGrownUniversePlansOnlyItsNewSymbols) {
  PlanInput in = input_2015(symbols(3000, "S", 4), 6000);
  in.list_max = 10;
  in.market = &in.symbols;
  const std::vector<state::Task> first = choose_plan(in, {}).tasks;
  ASSERT_EQ(first.size(), 261u);  // by date, generation 0
  // Two symbols join (generation 1): the days are fetched by date already, so the new ones get
  // requests of their own, one list of two for the year.
  in.symbols.push_back(Symbol{"N1", {}, {}, "", 1});
  in.symbols.push_back(Symbol{"N2", {}, {}, "", 1});
  const PlanChoice c = choose_plan(in, first);
  EXPECT_EQ(cost(c, Strategy::symbol_window).requests, 2);
  EXPECT_EQ(cost(c, Strategy::symbol_list).requests, 1);
  EXPECT_EQ(cost(c, Strategy::date_all_symbols).requests, 1);
  EXPECT_EQ(c.chosen, Strategy::symbol_list);  // a tie: the first declared wins
  ASSERT_EQ(c.tasks.size(), 1u);
  EXPECT_EQ(c.tasks[0].params_json, R"({"ts_code":["N1","N2"]})");
  // Planned again with the same universe: nothing is missing.
  std::vector<state::Task> all = first;
  all.push_back(c.tasks[0]);
  EXPECT_TRUE(choose_plan(in, all).tasks.empty());
}

TEST(CheapestPlan, AWidenedRangePlansOnlyTheNewDays) {
  PlanInput in = input_2015(symbols(3000, "S", 4), 6000);
  in.list_max = 10;
  in.market = &in.symbols;
  in.end_day = d("2015-06-30");
  const std::vector<state::Task> first = choose_plan(in, {}).tasks;
  ASSERT_EQ(first.size(), 129u);
  in.end_day = d("2015-12-31");
  const PlanChoice c = choose_plan(in, first);
  EXPECT_EQ(c.chosen, Strategy::date_all_symbols);
  ASSERT_EQ(c.tasks.size(), 132u);
  EXPECT_EQ(c.tasks.front().start_day, d("2015-07-01"));
  // The same after a list plan: only the second half, in lists.
  in.end_day = d("2015-06-30");
  PlanInput lists = in;
  lists.forced = Strategy::symbol_list;
  const std::vector<state::Task> listed = choose_plan(lists, {}).tasks;
  ASSERT_EQ(listed.size(), 300u);
  lists.end_day = d("2015-12-31");
  const PlanChoice more = choose_plan(lists, listed);
  ASSERT_EQ(more.tasks.size(), 300u);
  for (const auto& t : more.tasks) EXPECT_GE(t.start_day, d("2015-07-01")) << t.id;
}

TEST(CheapestPlan, ListWindowsFollowListingDates) {
  // Four symbols listing a quarter apart, 301 rows per request: a list's window holds as many
  // days as keep the listed members' rows under 300.
  std::vector<Symbol> u = symbols(4);
  u[1].list_day = d("2015-04-01");
  u[2].list_day = d("2015-07-01");
  u[3].list_day = d("2015-10-01");
  PlanInput in = input_2015(u, 301);
  in.strategies = {Strategy::symbol_list};
  in.list_max = 4;
  const PlanChoice c = choose_plan(in, {});
  int64_t rows = 0;
  const RowModel model(in);
  for (const auto& t : c.tasks) {
    const int64_t r = model.rows(t).fetched;
    EXPECT_LE(r, 300) << t.id;
    rows += r;
  }
  // S00 261 days, S01 from Apr 1 (197), S02 from Jul 1 (132), S03 from Oct 1 (66).
  EXPECT_EQ(rows, 261 + 197 + 132 + 66);
  EXPECT_EQ(cost(c, Strategy::symbol_list).rows_fetched, rows);
  EXPECT_EQ(c.tasks.size(), 3u);
}

TEST(CheapestPlan, ParamSetsRoundTrip) {
  state::Task t =
      make_task("p", "ts_code", ParamSet::list({"B", "A"}), d("2015-01-05"), d("2015-01-09"));
  EXPECT_EQ(t.params_json, R"({"ts_code":["A","B"]})");
  EXPECT_EQ(param_set(t), ParamSet::list({"A", "B"}));
  EXPECT_EQ(request_symbols(param_set(t), ","), "A,B");
  EXPECT_EQ(label(param_set(t)), "A and 1 more");
  EXPECT_EQ(label(ParamSet::all(0)), "every symbol");
  EXPECT_EQ(task_symbol(t), "");
  t = make_task("p", "ts_code", ParamSet::all(3), d("2015-01-05"), d("2015-01-05"));
  EXPECT_EQ(param_set(t), ParamSet::all(3));
  EXPECT_EQ(request_symbols(param_set(t), ","), "");
  t = make_task("p", "ts_code", ParamSet::list({"A"}), d("2015-01-05"), d("2015-01-09"));
  EXPECT_EQ(t.id, "p/A/20150105-20150109");  // a list of one is the symbol's task
  EXPECT_EQ(task_symbol(t), "A");
}

TEST(CheapestPlan, MergedUniverseKeepsGenerations) {
  std::vector<Symbol> old = {Symbol{"A", {}, {}, "L", 0}, Symbol{"B", {}, {}, "L", 1}};
  auto grown = merge_universe(old, {sym("C"), sym("A")}, /*keep_old=*/true);
  ASSERT_EQ(grown.size(), 3u);
  EXPECT_EQ(grown[0].code, "C");
  EXPECT_EQ(grown[0].gen, 2);
  EXPECT_EQ(grown[1].gen, 0);
  EXPECT_EQ(grown[2].code, "B");  // kept: a universe from an endpoint only grows
  auto replaced = merge_universe(old, {sym("C"), sym("A")}, /*keep_old=*/false);
  EXPECT_EQ(replaced.size(), 2u);
  EXPECT_EQ(merge_universe({}, {sym("A")}, true)[0].gen, 0);
}

namespace {

CutRules rules(std::vector<Symbol> universe, int64_t max_rows, int64_t list_max) {
  CutRules::Options o;
  o.symbol_param = "ts_code";
  o.max_rows = max_rows;
  o.list_max = list_max;
  o.widen = true;
  return CutRules(&weekdays(), std::move(universe), o);
}

std::vector<std::string> ids(const std::vector<state::Task>& tasks) {
  std::vector<std::string> out;
  for (const auto& t : tasks) out.push_back(t.id);
  return out;
}

}  // namespace

TEST(CutRules, ACappedDayByDateSplitsIntoListsOfTheUniverseTradingThatDay) {
  std::vector<Symbol> u = symbols(8);
  u[6].gen = 1;                       // joined later: not covered by a generation-0 task
  u[7].delist_day = d("2015-03-02");  // gone by then
  u[5].list_day = d("2015-03-03");    // not listed yet
  const CutRules r = rules(u, 1000, 3);
  const state::Task day =
      make_task("p", "ts_code", ParamSet::all(0), d("2015-03-02"), d("2015-03-02"));
  auto children = r.split_capped(day);
  ASSERT_TRUE(children) << children.error().message;
  ASSERT_EQ(children->size(), 2u);
  EXPECT_EQ(param_set((*children)[0]).symbols, (std::vector<std::string>{"S00", "S01", "S02"}));
  EXPECT_EQ(param_set((*children)[1]).symbols, (std::vector<std::string>{"S03", "S04"}));
  EXPECT_EQ((*children)[1].parent, day.id);
  EXPECT_EQ((*children)[1].start_day, d("2015-03-02"));
  // Without lists, one symbol each.
  EXPECT_EQ(rules(u, 1000, 0).split_capped(day)->size(), 5u);
  // A list over one day splits in two lists; over several days, in two windows.
  auto halves = r.split_capped((*children)[0]);
  ASSERT_TRUE(halves);
  EXPECT_EQ(ids(*halves), (std::vector<std::string>{"p/S00/20150302-20150302", (*halves)[1].id}));
  EXPECT_EQ(param_set((*halves)[1]).symbols, (std::vector<std::string>{"S01", "S02"}));
  const state::Task week =
      make_task("p", "ts_code", ParamSet::list({"S00", "S01"}), d("2015-03-02"), d("2015-03-06"));
  auto windows = r.split_capped(week);
  ASSERT_TRUE(windows);
  ASSERT_EQ(windows->size(), 2u);
  EXPECT_EQ((*windows)[0].end_day, d("2015-03-03"));
  EXPECT_EQ((*windows)[1].params_json, week.params_json);
  // One symbol on one day cannot be split.
  EXPECT_FALSE(r.split_capped(
      make_task("p", "ts_code", ParamSet::one("S00"), d("2015-03-02"), d("2015-03-02"))));
}

TEST(CutRules, ASparseAnswerWidensTheNextPendingWindows) {
  const CutRules r = rules(symbols(2), 1000, 0);
  // Windows of four weeks (20 trading days) for S00 from January, one of S01.
  std::deque<state::Task> queue;
  int32_t start = d("2015-01-05");
  for (int i = 0; i < 8; ++i, start += 28)
    queue.push_back(make_task("p", "ts_code", ParamSet::one("S00"), start, start + 25));
  queue.push_back(
      make_task("p", "ts_code", ParamSet::one("S01"), d("2015-02-02"), d("2015-02-27")));
  const state::Task done = queue.front();
  queue.pop_front();
  queue.pop_front();  // in flight
  // 5 rows in 20 days: the next windows may grow to 80 days (expected 20 rows): four merge.
  auto w = r.widen_after(done, 5, queue);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->parts.size(), 4u);
  EXPECT_EQ(w->parts[0].id, queue[0].id);
  EXPECT_EQ(w->merged.start_day, queue[0].start_day);
  EXPECT_EQ(w->merged.end_day, queue[3].end_day);
  EXPECT_EQ(w->merged.id, task_id("p", ParamSet::one("S00"), queue[0].start_day, queue[3].end_day));
  EXPECT_EQ(w->merged.params_json, R"({"ts_code":"S00"})");
  // 200 rows in 20 days: two windows would hold 400 (under half the cap), three 600: two merge.
  w = r.widen_after(done, 200, queue);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->parts.size(), 2u);
  // 300 rows is not far under the cap of 1000 (a quarter is 249).
  EXPECT_FALSE(r.widen_after(done, 300, queue));
  // A window that is not pending stops the run of windows.
  queue[1].state = state::TaskState::failed;
  EXPECT_FALSE(r.widen_after(done, 5, queue));
}

TEST(CutRules, AnswersByDateKeepTheUniversesRows) {
  std::vector<Symbol> u = symbols(3);
  u[2].gen = 1;
  const CutRules r = rules(u, 1000, 0);
  Schema schema;
  schema.fields = {Field{"ts_code", DataType::string}, Field{"v", DataType::int64}};
  RecordBatch b(schema);
  for (const char* code : {"S00", "X", "S01", "S02", "Y", "S00"}) {
    b.column(0).append_string(code);
    b.column(1).append_int(1);
  }
  const RecordBatch kept = r.keep_universe(b, 0, 0);
  ASSERT_EQ(kept.num_rows(), 3u);
  EXPECT_EQ(kept.column(0).string_at(0), "S00");
  EXPECT_EQ(kept.column(0).string_at(1), "S01");
  EXPECT_EQ(kept.column(0).string_at(2), "S00");
  EXPECT_EQ(r.keep_universe(b, 0, 1).num_rows(), 4u);
}
