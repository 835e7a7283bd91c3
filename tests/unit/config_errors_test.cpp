// Config errors name file:line:col (1-based), the key path, the bad value and what was expected.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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

namespace {

// Loads a workspace whose finsync.yaml is `yaml`, from a scratch directory.
Result<WorkspaceDef> workspace_from(const std::string& yaml) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("finsync_ws_" + std::to_string(::getpid()) + "_" + info->name());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "finsync.yaml") << yaml;
  auto w = load_workspace(dir.string());
  std::filesystem::remove_all(dir);
  return w;
}

std::string workspace_error(const std::string& yaml) {
  auto w = workspace_from(yaml);
  EXPECT_FALSE(w.has_value());
  if (w) return "";
  // The scratch directory differs per test; the position and message are what matter.
  return w.error().message.substr(w.error().message.find("finsync.yaml"));
}

}  // namespace

TEST(ConfigErrors, PostgresStateParses) {
  auto w = workspace_from(
      "state:\n"
      "  kind: postgres\n"
      "  dsn: postgresql://finsync@db:5432/market\n"
      "  password: ${PG_PASSWORD}\n"
      "  schema: finsync_prod\n");
  ASSERT_TRUE(w.has_value()) << w.error().message;
  EXPECT_EQ(w->state_kind, "postgres");
  EXPECT_EQ(w->state_postgres.dsn.text, "postgresql://finsync@db:5432/market");
  EXPECT_EQ(w->state_postgres.password.text, "${PG_PASSWORD}");
  EXPECT_NE(w->state_postgres.password.where.find("finsync.yaml:4:13: state.password"),
            std::string::npos)
      << w->state_postgres.password.where;
  EXPECT_EQ(w->state_postgres.schema, "finsync_prod");

  auto d = workspace_from("state: { kind: postgres, dsn: \"host=db dbname=market\" }\n");
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->state_postgres.schema, "finsync");
  EXPECT_TRUE(d->state_postgres.password.text.empty());

  auto s = workspace_from("state: { path: s.db }\n");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->state_kind, "sqlite");
}

TEST(ConfigErrors, StateLeaseIsADurationOfAtLeastOneSecond) {
  auto w = workspace_from("state: { kind: sqlite, lease: 2m }\n");
  ASSERT_TRUE(w.has_value()) << w.error().message;
  EXPECT_EQ(w->lease_duration, std::chrono::minutes(2));
  auto d = workspace_from("data_dir: d\n");
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->lease_duration, std::chrono::seconds(30));
  EXPECT_EQ(workspace_error("state: { lease: 500ms }\n"),
            "finsync.yaml:1:17: state.lease: value '500ms' is not valid: expected a duration of at "
            "least 1s (a lease is renewed every third of it)");
}

TEST(ConfigErrors, StateKindAndKeysAreChecked) {
  EXPECT_EQ(workspace_error("state: { kind: mysql }\n"),
            "finsync.yaml:1:16: state.kind: value 'mysql' is not valid: expected one of sqlite, "
            "postgres");
  EXPECT_EQ(workspace_error("state: { kind: postgres }\n"),
            "finsync.yaml:1:8: state: missing required key 'dsn'");
  EXPECT_EQ(workspace_error("state: { kind: sqlite, dsn: postgresql://h/db }\n"),
            "finsync.yaml:1:29: state.dsn: only valid with kind: postgres");
  EXPECT_EQ(workspace_error("state: { kind: postgres, dsn: postgresql://h/db, path: x.db }\n"),
            "finsync.yaml:1:56: state.path: only valid with kind: sqlite (a postgres store lives "
            "in `schema` of the database named by `dsn`)");
  // The dsn is not echoed: it may hold a password.
  EXPECT_EQ(workspace_error("state: { kind: postgres, dsn: mysql://u:pw@h/db }\n"),
            "finsync.yaml:1:31: state.dsn: expected a postgresql:// URI or a libpq keyword=value "
            "string");
  EXPECT_EQ(
      workspace_error("state: { kind: postgres, dsn: postgresql://h/db, schema: Fin-Sync }\n"),
      "finsync.yaml:1:58: state.schema: value 'Fin-Sync' is not valid: expected lower-case "
      "letters, digits and _, not starting with a digit, at most 63 characters");
}
