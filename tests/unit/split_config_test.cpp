// split.strategies in provider files and split.strategy in plans: every bad value is named with
// file:line:col, the key path, the value and what was expected.
#include <gtest/gtest.h>

#include "config/plan_def.hpp"
#include "config/provider_def.hpp"

using namespace finsync;
using namespace finsync::config;

namespace {

// An endpoint `bars` taking a symbol, with `split` (lines from 14 on) as given.
std::string provider_with_split(const std::string& split, bool with_universe = true) {
  return std::string(R"(provider: x
base_url: http://127.0.0.1:1
rows: { kind: objects, items: $.data }
endpoints:
  list:
    columns: { code: string }
    primary_key: [code]
)") +
         (with_universe ? "    universe: { symbol_column: code }\n"
                        : "    description: no universe\n") +
         R"(  bars:
    params: { code: { type: string }, day: { type: date, format: "%Y%m%d" }, n: { type: int } }
    symbol_param: code
    columns: { code: string, d: date, v: double }
    primary_key: [code, d]
    split:
)" + split;
}

std::string provider_error(const std::string& text) {
  auto p = parse_provider(text, "providers/x.yaml");
  EXPECT_FALSE(p.has_value());
  return p ? "" : p.error().message;
}

}  // namespace

TEST(SplitConfig, StrategiesAndTheirSectionsParse) {
  auto p = parse_provider(provider_with_split(R"(      strategies: [date_all_symbols, symbol_list]
      symbol_list: { param: code, separator: "|", max: 50 }
      date_all_symbols: { param: day }
)"),
                          "providers/x.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  const SplitDef& s = p->endpoint("bars")->split;
  EXPECT_EQ(s.strategies, (std::vector<std::string>{"date_all_symbols", "symbol_list"}));
  EXPECT_EQ(s.list_param, "code");
  EXPECT_EQ(s.list_separator, "|");
  EXPECT_EQ(s.list_max, 50);
  EXPECT_EQ(s.date_param, "day");
  EXPECT_EQ(s.universe, "list");       // the provider's one endpoint with a universe section
  EXPECT_EQ(s.symbol_column, "code");  // defaults to the symbol parameter
  EXPECT_FALSE(s.allows("symbol_window"));
  // Without strategies an endpoint cuts by symbol and window only.
  auto plain = parse_provider(provider_with_split("      window: auto\n"), "providers/x.yaml");
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_EQ(plain->endpoint("bars")->split.strategies, std::vector<std::string>{"symbol_window"});
}

TEST(SplitConfig, UnknownAndRepeatedStrategiesAreNamed) {
  EXPECT_EQ(provider_error(provider_with_split("      strategies: [symbol_window, symbol_lst]\n")),
            "providers/x.yaml:15:35: endpoints.bars.split.strategies[1]: value 'symbol_lst' is not "
            "valid: expected one of symbol_window, symbol_list, date_all_symbols (did you mean "
            "'symbol_list'?)");
  EXPECT_EQ(
      provider_error(provider_with_split("      strategies: [symbol_window, symbol_window]\n")),
      "providers/x.yaml:15:35: endpoints.bars.split.strategies[1]: value 'symbol_window' is "
      "listed twice");
  EXPECT_EQ(provider_error(provider_with_split("      strategies: []\n")),
            "providers/x.yaml:15:19: endpoints.bars.split.strategies: expected at least one "
            "strategy");
}

TEST(SplitConfig, AStrategyNeedsItsSectionAndASectionItsStrategy) {
  EXPECT_EQ(provider_error(provider_with_split("      strategies: [symbol_list]\n")),
            "providers/x.yaml:15:19: endpoints.bars.split.strategies: lists symbol_list, but "
            "split.symbol_list is missing (expected { max: N } and optionally param, separator)");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [symbol_window]
      date_all_symbols: { param: day }
)")),
            "providers/x.yaml:16:25: endpoints.bars.split.date_all_symbols: is given, but "
            "split.strategies does not list date_all_symbols");
  EXPECT_EQ(provider_error(provider_with_split("      symbol_list: { max: 10 }\n")),
            "providers/x.yaml:15:20: endpoints.bars.split.symbol_list: configures a strategy, but "
            "split.strategies is not given; expected strategies: [symbol_window, symbol_list]");
}

TEST(SplitConfig, SectionValuesAreChecked) {
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [symbol_list]
      symbol_list: { max: 1 }
)")),
            "providers/x.yaml:16:27: endpoints.bars.split.symbol_list.max: value '1' is not "
            "valid: expected an integer >= 2");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [symbol_list]
      symbol_list: { param: codes, max: 10 }
)")),
            "providers/x.yaml:16:29: endpoints.bars.split.symbol_list.param: value 'codes' is not "
            "valid: expected the name of a parameter of this endpoint");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [date_all_symbols]
      date_all_symbols: { param: n }
)")),
            "providers/x.yaml:16:34: endpoints.bars.split.date_all_symbols.param: value 'n' is not "
            "valid: expected the name of a date parameter of this endpoint");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [date_all_symbols]
      date_all_symbols: { param: day, symbol_column: v }
)")),
            "providers/x.yaml:16:54: endpoints.bars.split.date_all_symbols.symbol_column: value "
            "'v' is not valid: expected a string column of this endpoint that names each row's "
            "symbol");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [date_all_symbols]
      date_all_symbols: { param: day, universe: bars }
)")),
            "providers/x.yaml:16:49: endpoints.bars.split.date_all_symbols.universe: value 'bars' "
            "is not valid: expected an endpoint of this provider with a 'universe' section "
            "(list)");
  EXPECT_EQ(provider_error(provider_with_split(R"(      strategies: [date_all_symbols]
      date_all_symbols: { param: day }
)",
                                               /*with_universe=*/false)),
            "providers/x.yaml:16:25: endpoints.bars.split.date_all_symbols: expected 'universe': "
            "the endpoint of this provider that lists every symbol an answer by date holds "
            "(endpoints with a 'universe' section: there is none)");
}

TEST(SplitConfig, StrategiesNeedASymbolAndTimeWindows) {
  EXPECT_EQ(provider_error(provider_with_split(R"(      by: symbol
      strategies: [symbol_window]
)")),
            "providers/x.yaml:16:19: endpoints.bars.split.strategies: strategies apply to splits "
            "by time window; 'by: symbol' makes one task per symbol over the whole range");
}

TEST(SplitConfig, PlanStrategyIsOneOfTheNames) {
  const std::string plan = R"(name: p1
provider: x
endpoint: bars
universe: { symbols: [A] }
range: { start: 2015-01-01, end: 2015-12-31 }
sink: { kind: parquet, path: out }
)";
  auto ok = parse_plan(plan + "split: { strategy: date_all_symbols }\n", "plans/p.yaml");
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->split_strategy, "date_all_symbols");
  EXPECT_EQ(ok->split_strategy_where, "plans/p.yaml:7:20: split.strategy");
  auto cheapest = parse_plan(plan + "split: { strategy: auto }\n", "plans/p.yaml");
  ASSERT_TRUE(cheapest.has_value());
  EXPECT_EQ(cheapest->split_strategy, "");
  auto bad = parse_plan(plan + "split: { strategy: by_date }\n", "plans/p.yaml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "plans/p.yaml:7:20: split.strategy: value 'by_date' is not valid: expected one of "
            "auto, symbol_window, symbol_list, date_all_symbols");
}
