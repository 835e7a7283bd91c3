// Config errors name file:line:col (1-based), the key path, the bad value and what was expected.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/catalog.hpp"
#include "config/env.hpp"
#include "config/plan_def.hpp"
#include "config/provider_def.hpp"
#include "config/workspace.hpp"

using namespace finsync;
using namespace finsync::config;

namespace {

const char* kPlan = R"(name: p1
provider: tushare
endpoint: daily
universe: { symbols: [000001.SZ] }
range: { start: 2015-01-01, end: 2015-12-31 }
sink: { kind: parquet, path: out }
)";

std::string plan_error(const std::string& text) {
  auto p = parse_plan(text, "plans/p.yaml");
  EXPECT_FALSE(p.has_value());
  return p ? "" : p.error().message;
}

}  // namespace

TEST(ConfigErrors, ValidPlanParses) {
  auto p = parse_plan(kPlan, "plans/p.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->name, "p1");
  EXPECT_EQ(p->universe.symbols, std::vector<std::string>{"000001.SZ"});
  EXPECT_EQ(p->start_day, 16436);  // 2015-01-01
  EXPECT_EQ(p->end_day, 16800);    // 2015-12-31
  EXPECT_EQ(p->sink.table, "daily");
  EXPECT_EQ(p->sink.mode, "upsert");
}

TEST(ConfigErrors, UnknownKeyHasDidYouMean) {
  std::string text = kPlan;
  text += "concurency: 4\n";
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:7:1: unknown key 'concurency'; did you mean 'concurrency'? (expected one "
            "of: name, description, provider, endpoint, universe, range, params, sink, split, "
            "concurrency)");
}

TEST(ConfigErrors, DuplicateKeyIsAnError) {
  std::string text = kPlan;
  text += "endpoint: weekly\n";
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:7:1: endpoint: duplicate key 'endpoint' (first defined at line 3)");
}

TEST(ConfigErrors, BadValueNamesPathValueAndExpectation) {
  std::string text = kPlan;
  text.replace(text.find("2015-12-31"), 10, "2015-13-40");
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:5:34: range.end: value '2015-13-40' is not valid: expected a date "
            "YYYY-MM-DD");
}

TEST(ConfigErrors, BadChoiceListsChoices) {
  std::string text = kPlan;
  text.replace(text.find("path: out"), 9, "path: out, mode: upsrt");
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:6:41: sink.mode: value 'upsrt' is not valid: expected one of append, "
            "replace, upsert (did you mean 'upsert'?)");
}

TEST(ConfigErrors, MalformedYamlHasPosition) {
  EXPECT_EQ(plan_error("name: [a, b\nprovider: x\n"),
            "plans/p.yaml:2:9: invalid YAML: end of sequence flow not found");
}

TEST(ConfigErrors, MissingRequiredKey) {
  std::string text = kPlan;
  text.replace(text.find("endpoint: daily\n"), 16, "");
  EXPECT_EQ(plan_error(text), "plans/p.yaml:1:1: missing required key 'endpoint'");
}

TEST(ConfigErrors, ProviderPrimaryKeyMustBeAColumn) {
  auto p = parse_provider(R"(provider: x
base_url: http://127.0.0.1:1
rows: { kind: objects, items: $.data }
endpoints:
  bars:
    columns: { sym: string, d: date }
    primary_key: [sym, day]
)",
                          "providers/x.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message,
            "providers/x.yaml:7:18: endpoints.bars.primary_key: value 'day' is not valid: expected "
            "one of the columns (sym, d)");
}

TEST(ConfigErrors, ProviderUnknownColumnType) {
  auto p = parse_provider(R"(provider: x
base_url: http://127.0.0.1:1
rows: { kind: objects, items: $.data }
endpoints:
  bars:
    columns: { sym: strng }
    primary_key: [sym]
)",
                          "providers/x.yaml");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message,
            "providers/x.yaml:6:21: endpoints.bars.columns.sym: value 'strng' is not valid: "
            "expected a column type (int64, double, string, date, timestamp, bool)");
}

TEST(ConfigErrors, BuiltinProvidersParse) {
  auto c = load_catalog("");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  const ProviderDef* t = c->find("tushare");
  ASSERT_NE(t, nullptr);
  ASSERT_NE(t->endpoint("daily"), nullptr);
  EXPECT_EQ(t->endpoint("daily")->max_rows_per_request, 6000);
  EXPECT_EQ(t->endpoint("daily")->primary_key, (std::vector<std::string>{"ts_code", "trade_date"}));
}

TEST(EnvExpansion, DefaultsAndMissingVariables) {
  ::setenv("FINSYNC_TEST_SET", "abc", 1);
  ::unsetenv("FINSYNC_TEST_UNSET");
  EXPECT_EQ(*expand_env(RawValue{"x-${FINSYNC_TEST_SET}-y", "f:1:1: a"}), "x-abc-y");
  EXPECT_EQ(*expand_env(RawValue{"${FINSYNC_TEST_UNSET:-http://h:1}", "f:1:1: a"}), "http://h:1");
  auto missing = expand_env(RawValue{"${FINSYNC_TEST_UNSET}", "providers/t.yaml:7:40: auth.value"});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message,
            "providers/t.yaml:7:40: auth.value: environment variable FINSYNC_TEST_UNSET is not set "
            "(needed here; set it, or write ${FINSYNC_TEST_UNSET:-default})");
}

TEST(EnvExpansion, CatalogLoadsWithoutSecretsSet) {
  ::unsetenv("TUSHARE_TOKEN");
  auto c = load_catalog("");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->find("tushare")->auth.value.text, "${TUSHARE_TOKEN}");
}

TEST(ConfigErrors, SplitWindowIsValidatedInPlans) {
  std::string text = kPlan;
  text += "split: { window: weekly }\n";
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:7:18: split.window: value 'weekly' is not valid: expected auto or a "
            "length like 30d, 6m, 3y");
  text = kPlan;
  text += "split: { window: 99999999999d }\n";
  EXPECT_EQ(plan_error(text),
            "plans/p.yaml:7:18: split.window: value '99999999999d' is not valid: expected auto or "
            "a length like 30d, 6m, 3y");
}
