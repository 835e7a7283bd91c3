// `finsync plan add` flags: the sink SPEC grammar, credentials refused unless they come from
// the environment, and the plan file written from a draft (read back by the plan parser).
#include <gtest/gtest.h>

#include "config/env.hpp"
#include "config/plan_writer.hpp"
#include "core/secrets.hpp"

using namespace finsync;
using namespace finsync::config;

namespace {

// The sink keys a build with database sinks has: the grammar must need nothing per kind.
const std::vector<SinkKey> kDbKeys = {
    {"kind"}, {"path"}, {"dsn"}, {"password"}, {"table"}, {"mode"}, {"partition_by", true}};
// Keys of a build whose sinks are all files: none takes a dsn.
const std::vector<SinkKey> kFileKeys = {
    {"kind"}, {"path"}, {"table"}, {"mode"}, {"partition_by", true}};

std::string dump(const std::vector<SinkEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    out += e.key + "=";
    for (size_t i = 0; i < e.values.size(); ++i) out += (i ? "+" : "") + e.values[i];
    out += e.list ? "[list];" : ";";
  }
  return out;
}

std::string parsed(std::string_view spec, const std::vector<SinkKey>& keys = sink_keys()) {
  auto r = parse_sink_spec(spec, keys);
  return r ? dump(*r) : "error: " + r.error().message;
}

}  // namespace

TEST(SinkSpec, FileAndEmbeddedForms) {
  EXPECT_EQ(parsed("parquet:./data"), "kind=parquet;path=./data;");
  EXPECT_EQ(parsed("duckdb:./finsync.duckdb"), "kind=duckdb;path=./finsync.duckdb;");
  EXPECT_EQ(
      parsed("parquet:tushare/daily,table=bars,mode=append,partition_by=ts_code+year"),
      "kind=parquet;path=tushare/daily;table=bars;mode=append;partition_by=ts_code+year[list];");
  EXPECT_EQ(parsed("csv"), "kind=csv;");
  EXPECT_EQ(parsed("duckdb,table=bars"), "kind=duckdb;table=bars;");
  EXPECT_EQ(parsed("duckdb:,table=bars"), "kind=duckdb;table=bars;");
  EXPECT_EQ(parsed("parquet:${DATA_DIR}/bars"), "kind=parquet;path=${DATA_DIR}/bars;");
  // A path may hold '=' (a hive partition directory); only what follows a comma is an option.
  EXPECT_EQ(parsed("csv:out/ts_code=A"), "kind=csv;path=out/ts_code=A;");
}

TEST(SinkSpec, UrlFormFillsDsnAndTakesOutSinkKeys) {
  EXPECT_EQ(parsed("postgres:postgresql://user@host:5432/db?table=t&mode=upsert", kDbKeys),
            "kind=postgres;dsn=postgresql://user@host:5432/db;table=t;mode=upsert;");
  // The driver's own parameters stay in the URL, in their order.
  EXPECT_EQ(
      parsed("postgres:postgresql://u@h/db?sslmode=require&table=t&connect_timeout=5", kDbKeys),
      "kind=postgres;dsn=postgresql://u@h/db?sslmode=require&connect_timeout=5;table=t;");
  EXPECT_EQ(parsed("clickhouse:http://127.0.0.1:8123/?table=bars&partition_by=ts_code", kDbKeys),
            "kind=clickhouse;dsn=http://127.0.0.1:8123/;table=bars;partition_by=ts_code[list];");
  // libpq host lists hold commas: the URL form never splits on them.
  EXPECT_EQ(parsed("postgres:postgresql://u@h1,h2/db", kDbKeys),
            "kind=postgres;dsn=postgresql://u@h1,h2/db;");
  EXPECT_EQ(parsed("mysql:mysql://u:${DB_PASSWORD}@h/db?password=${X}", kDbKeys),
            "kind=mysql;dsn=mysql://u:${DB_PASSWORD}@h/db;password=${X};");
  // The built-in keys (postgres takes a dsn and a schema).
  EXPECT_EQ(parsed("postgres:postgresql://u@h/db?schema=market"),
            "kind=postgres;dsn=postgresql://u@h/db;schema=market;");
  EXPECT_EQ(parsed("postgres:postgresql://u@h/db", kFileKeys),
            "error: a URL location fills sink.dsn, and no sink of this finsync takes one: "
            "expected KIND:PATH");
}

TEST(SinkSpec, LiteralCredentialsAreRefusedAndMasked) {
  const std::string url_pw =
      "error: a password in the URL is not accepted on the command line: leave it out of the URL "
      "and give the query parameter 'password' the value ${VAR}, the environment variable that "
      "holds it (in single quotes, so that the shell leaves it to finsync)";
  EXPECT_EQ(parsed("postgres:postgresql://user:hunter2pw@host/db", kDbKeys), url_pw);
  // Refused before anything else is judged, also where no sink takes a URL.
  EXPECT_EQ(parsed("postgres:postgresql://user:hunter2pw@host/db"), url_pw);
  EXPECT_EQ(secrets::mask("postgres:postgresql://user:hunter2pw@host/db?x=hunter2pw"),
            "postgres:postgresql://user:***@host/db?x=***");
  EXPECT_EQ(parsed("postgres:postgresql://u@h/db?password=Pa55word-x", kDbKeys),
            "error: 'password' holds a credential, and a literal one is not accepted on the "
            "command line: give it the value ${VAR}, the environment variable that holds it (in "
            "single quotes, so that the shell leaves it to finsync)");
  EXPECT_EQ(secrets::mask("pwd Pa55word-x"), "pwd ***");
  // Not a sink key, still a credential: the driver would get it from the URL.
  EXPECT_EQ(parsed("mysql:mysql://u@h/db?pwd=z9z9z9", kDbKeys).substr(0, 28),
            "error: 'pwd' holds a credent");
  EXPECT_EQ(parsed("duckdb:x.duckdb,password=${PG_PASSWORD:-fallback}", kDbKeys).substr(0, 33),
            "error: 'password' holds a credent");
  // A credential under a key no sink has is refused as a credential first.
  EXPECT_EQ(parsed("duckdb:x.duckdb,password=Pa55word-y").substr(0, 33),
            "error: 'password' holds a credent");
  EXPECT_EQ(parsed("duckdb:x.duckdb,password=${PG_PASSWORD}", kDbKeys),
            "kind=duckdb;path=x.duckdb;password=${PG_PASSWORD};");
}

TEST(SinkSpec, MalformedSpecsSayWhatWasExpected) {
  const std::string kind_msg =
      "lower-case kind, e.g. parquet:./data, duckdb:./finsync.duckdb, "
      "postgres:postgresql://user@host:5432/db?table=bars";
  EXPECT_EQ(parsed(""),
            "error: sink kind '' is not valid: expected KIND:PATH or KIND:URL with a " + kind_msg);
  EXPECT_EQ(
      parsed("Parquet:./d"),
      "error: sink kind 'Parquet' is not valid: expected KIND:PATH or KIND:URL with a " + kind_msg);
  EXPECT_EQ(parsed("parquet:./d,tabel=x"),
            "error: option 'tabel' is not a sink key (did you mean 'table'?): expected one of "
            "path, table, mode, partition_by, replace, dsn, password, batch_size, schema_drift, "
            "schema, max_retries, load, sheets, sheet_column, sheet_rows, url, database");
  EXPECT_EQ(parsed("parquet:./d,kind=csv"),
            "error: option 'kind' is not a sink key: expected one of path, table, mode, "
            "partition_by, replace, dsn, password, batch_size, schema_drift, schema, "
            "max_retries, load, sheets, sheet_column, sheet_rows, url, database");
  EXPECT_EQ(parsed("parquet:./d,table"), "error: option 'table' is not valid: expected KEY=VALUE");
  EXPECT_EQ(parsed("parquet:./d,"), "error: option '' is not valid: expected KEY=VALUE");
  EXPECT_EQ(parsed("parquet:./d,path=./e"), "error: 'path' is given twice");
  EXPECT_EQ(parsed("parquet:./d,partition_by=a++b"),
            "error: 'partition_by=a++b' is not valid: expected items separated by '+', e.g. "
            "partition_by=a+b");
  EXPECT_EQ(parsed("postgres:postgresql://u@h/db?table", kDbKeys),
            "error: query parameter 'table' is not valid: expected KEY=VALUE");
}

TEST(SecretNames, CredentialKeysAndEnvReferences) {
  for (const char* k : {"password", "PASSWORD", "pwd", "token", "api_key", "apikey", "apiKey",
                        "access-token", "client_secret", "key", "db_password"})
    EXPECT_TRUE(secret_key_name(k)) << k;
  for (const char* k : {"ts_code", "keyword", "primary_key", "symbol", "limit", "table"})
    EXPECT_FALSE(secret_key_name(k)) << k;
  EXPECT_TRUE(is_env_reference("${PG_PASSWORD}"));
  for (const char* v : {"${PG_PASSWORD:-x}", "x${A}", "${A}x", "${}", "${1A}", "$A", "plain"})
    EXPECT_FALSE(is_env_reference(v)) << v;
}

TEST(PlanWriter, WritesAPlanTheParserReadsBack) {
  PlanDraft d;
  d.name = "bars";
  d.provider = "tushare";
  d.endpoint = "daily";
  d.symbols = {"000001.SZ", "600000.SH"};
  d.start = "2016-01-01";
  d.end = "2016-12-31";
  d.params = {{"adj", "qfq"}};
  d.sink = *parse_sink_spec("parquet:tushare/bars,mode=upsert,partition_by=ts_code+year");
  const std::string text = plan_yaml(d);
  EXPECT_EQ(text,
            "# Written by `finsync plan add`; edit it like any plan file "
            "(docs/configuration.md).\n"
            "name: bars\n"
            "provider: tushare\n"
            "endpoint: daily\n"
            "universe:\n"
            "  symbols: [000001.SZ, 600000.SH]\n"
            "range: {start: 2016-01-01, end: 2016-12-31}\n"
            "params:\n"
            "  adj: qfq\n"
            "sink:\n"
            "  kind: parquet\n"
            "  path: tushare/bars\n"
            "  mode: upsert\n"
            "  partition_by: [ts_code, year]\n");
  auto p = parse_plan(text, "bars.yaml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->name, "bars");
  EXPECT_EQ(p->universe.symbols, (std::vector<std::string>{"000001.SZ", "600000.SH"}));
  EXPECT_EQ(p->sink.kind, "parquet");
  EXPECT_EQ(p->sink.path.text, "tushare/bars");
  EXPECT_EQ(p->sink.table, "daily");
  EXPECT_EQ(p->sink.partition_by, (std::vector<std::string>{"ts_code", "year"}));
  EXPECT_EQ(p->params, (std::vector<std::pair<std::string, std::string>>{{"adj", "qfq"}}));
}

TEST(PlanWriter, ValuesThatNeedQuotingRoundTrip) {
  PlanDraft d;
  d.name = "odd";
  d.provider = "p";
  d.endpoint = "e";
  d.symbols_from = "stock_basic";
  d.start = "2016-01-01";
  d.end = "2016-01-31";
  d.params = {{"q", "a: b #c"}, {"n", "007"}, {"flag", "yes"}, {"key", "${API_KEY}"}};
  d.sink = *parse_sink_spec("duckdb:${DATA}/x.duckdb,table=t");
  for (int i = 0; i < 12; ++i) d.symbols.push_back("S" + std::to_string(i));
  auto p = parse_plan(plan_yaml(d), "odd.yaml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->universe.from_endpoint, "stock_basic");
  EXPECT_EQ(p->params, d.params);
  EXPECT_EQ(p->sink.path.text, "${DATA}/x.duckdb");
  d.symbols_from.clear();
  const std::string text = plan_yaml(d);
  EXPECT_NE(text.find("  symbols:\n    - S0\n    - S1\n"), std::string::npos) << text;
  p = parse_plan(text, "odd.yaml");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->universe.symbols.size(), 12u);
  EXPECT_EQ(p->universe.symbols.back(), "S11");
}

TEST(PlanWriter, EndTodayIsWrittenForTheSchemaToJudge) {
  PlanDraft d;
  d.name = "inc";
  d.provider = "tushare";
  d.endpoint = "daily";
  d.symbols = {"000001.SZ"};
  d.start = "2024-01-01";
  d.end = "today";
  d.sink = *parse_sink_spec("duckdb");
  const std::string text = plan_yaml(d);
  EXPECT_NE(text.find("range: {start: 2024-01-01, end: today}\n"), std::string::npos) << text;
}
