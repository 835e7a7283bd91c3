// Request templating, row extraction and error classification of the declarative provider.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/catalog.hpp"
#include "core/dates.hpp"
#include "core/percent_encode.hpp"
#include "provider/error_classify.hpp"
#include "provider/provider.hpp"
#include "provider/request_template.hpp"
#include "provider/row_extract.hpp"

using namespace finsync;
using namespace finsync::provider;

namespace {

const config::ProviderDef& tushare() {
  static config::Catalog c = *config::load_catalog("");
  return *c.find("tushare");
}

std::unique_ptr<Provider> make_tushare() {
  ::setenv("TUSHARE_URL", "http://127.0.0.1:9/", 1);
  ::setenv("TUSHARE_TOKEN", "tok-abcdef123456", 1);
  ProviderRegistry reg;
  register_builtin_providers(reg);
  return std::move(*reg.create(tushare()));
}

net::HttpResponse json_response(long status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST(Templating, RendersPlaceholdersAndRejectsUnknownOnes) {
  TemplateVars v;
  v.values = {{"ticker", "AAPL"}, {"from", "2024-01-02"}};
  EXPECT_EQ(*render_string("/v2/aggs/{ticker}/range/{from}", v), "/v2/aggs/AAPL/range/2024-01-02");
  auto bad = render_string("/x/{nope}", v);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "template '/x/{nope}': no value for {nope}");
  EXPECT_EQ(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(Templating, TushareRequestBody) {
  auto p = make_tushare();
  const auto& ep = *tushare().endpoint("daily");
  Params params = task_params(ep, {}, "000001.SZ", *dates::parse_iso("2015-01-05"),
                              *dates::parse_iso("2015-02-27"));
  auto req = p->build_request(ep, params);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->url, "http://127.0.0.1:9/");
  EXPECT_EQ(req->body,
            R"({"api_name":"daily","token":"tok-abcdef123456","params":{"ts_code":"000001.SZ",)"
            R"("start_date":"20150105","end_date":"20150227"},"fields":"ts_code,trade_date,open,)"
            R"(high,low,close,pre_close,change,pct_chg,vol,amount"})");
}

TEST(RowExtraction, FieldsItems) {
  auto p = make_tushare();
  const auto& ep = *tushare().endpoint("daily");
  // Columns in another order than the definition, plus one the definition does not know.
  auto page = p->parse_response(ep, {}, json_response(200, R"({"code":0,"msg":"","data":{
      "fields":["trade_date","ts_code","close","extra","open"],
      "items":[["20150106","000001.SZ",10.5,"x",10.01],["20150105","000001.SZ",null,"y",9.99]]}})"));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  const RecordBatch& b = page->batch;
  ASSERT_EQ(b.num_rows(), 2u);
  ASSERT_EQ(b.num_columns(), 11u);
  EXPECT_EQ(b.column(0).string_at(0), "000001.SZ");
  EXPECT_EQ(b.column(1).int_at(0), *dates::parse_iso("2015-01-06"));
  EXPECT_EQ(b.column(2).double_at(0), 10.01);  // open
  EXPECT_EQ(b.column(5).double_at(0), 10.5);   // close
  EXPECT_FALSE(b.column(5).valid(1));          // null close
  EXPECT_FALSE(b.column(3).valid(0));          // high was not in the answer
}

TEST(RowExtraction, ObjectsWithTypeErrors) {
  config::RowsDef rows;
  rows.items = "$.results";
  std::vector<config::ColumnDef> cols = {{"t", DataType::string, "", ""},
                                         {"d", DataType::date, "%Y-%m-%d", ""},
                                         {"v", DataType::int64, "", ""},
                                         {"c", DataType::float64, "", ""}};
  simdjson::dom::parser parser;
  auto b = extract_rows(rows, cols,
                        R"({"results":[{"t":"AAPL","d":"2024-01-02","v":100,"c":"185.64"},
                                       {"c":1,"t":"MSFT","zz":[1]}]})",
                        parser);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  ASSERT_EQ(b->num_rows(), 2u);
  EXPECT_EQ(b->column(0).string_at(1), "MSFT");
  EXPECT_EQ(b->column(1).int_at(0), *dates::parse_iso("2024-01-02"));
  EXPECT_FALSE(b->column(1).valid(1));
  EXPECT_EQ(b->column(2).int_at(0), 100);
  EXPECT_EQ(b->column(3).double_at(0), 185.64);
  EXPECT_EQ(b->column(3).double_at(1), 1.0);
  auto bad = extract_rows(rows, cols, R"({"results":[{"d":"02/01/2024"}]})", parser);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "column d: value '02/01/2024' is not valid: expected date in format %Y-%m-%d");
}

TEST(ErrorRules, TushareCodesAndChineseMessages) {
  auto p = make_tushare();
  const auto& ep = *tushare().endpoint("daily");
  auto kind_of = [&](long status, const std::string& body) {
    auto r = p->parse_response(ep, {}, json_response(status, body));
    return r ? std::string("ok") : std::string(to_string(r.error().kind));
  };
  EXPECT_EQ(kind_of(200, R"({"code":40101,"msg":"您的token不对，请确认。","data":null})"), "auth");
  EXPECT_EQ(
      kind_of(
          200,
          R"({"code":40203,"msg":"抱歉，您每分钟最多访问该接口200次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。","data":null})"),
      "rate_limited");
  EXPECT_EQ(
      kind_of(
          200,
          R"({"code":40203,"msg":"抱歉，您每天最多访问该接口100000次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。","data":null})"),
      "quota_exhausted");
  EXPECT_EQ(kind_of(200, R"({"code":-1,"msg":"接口名称不正确","data":null})"), "permanent");
  EXPECT_EQ(kind_of(502, "<html>bad gateway</html>"), "transient");
  EXPECT_EQ(kind_of(200, R"({"code":0,"msg":"","data":{"fields":["ts_code"],"items":[]}})"), "ok");
  EXPECT_EQ(kind_of(200, R"({"code":0,"msg":"","data":{"fields":["ts_co)"), "transient");
}

TEST(ErrorRules, RateLimitedCarriesRetryAt) {
  auto p = make_tushare();
  const auto& ep = *tushare().endpoint("daily");
  const auto before = std::chrono::system_clock::now();
  auto r = p->parse_response(
      ep, {},
      json_response(200, R"({"code":40203,"msg":"抱歉，您每分钟最多访问该接口5次","data":null})"));
  ASSERT_FALSE(r.has_value());
  ASSERT_TRUE(r.error().retry_at.has_value());
  EXPECT_GE(*r.error().retry_at, before + std::chrono::seconds(60));
  EXPECT_LE(*r.error().retry_at, std::chrono::system_clock::now() + std::chrono::seconds(60));
}

namespace {

const config::ProviderDef& builtin(const std::string& name) {
  static config::Catalog c = *config::load_catalog("");
  return *c.find(name);
}

std::unique_ptr<Provider> make_builtin(const std::string& name) {
  ::setenv("ALPHAVANTAGE_URL", "http://127.0.0.1:9", 1);
  ::setenv("ALPHAVANTAGE_API_KEY", "av-key-123456", 1);
  ::setenv("POLYGON_URL", "http://127.0.0.1:9", 1);
  ::setenv("POLYGON_API_KEY", "pg-key-123456", 1);
  ::setenv("BINANCE_URL", "http://127.0.0.1:9", 1);
  ProviderRegistry reg;
  register_builtin_providers(reg);
  return std::move(*reg.create(builtin(name)));
}

}  // namespace

TEST(RowExtraction, KeyedObjectAlphaVantage) {
  auto p = make_builtin("alphavantage");
  const auto& ep = *builtin("alphavantage").endpoint("daily");
  auto page = p->parse_response(ep, {{"symbol", "IBM"}}, json_response(200, R"j({
    "Meta Data": {"2. Symbol": "IBM"},
    "Time Series (Daily)": {
    "2024-01-03" : {
      "1. open" : "185.1500",
      "2. high" : "186.0000",
      "3. low" : "184.0100",
      "4. close" : "185.6400",
      "5. volume" : "12345"
    },
                   "2024-01-02" : {
      "1. open" : "184.0000",
                  "2. high" : "185.5000",
                              "3. low" : "183.2500",
                                         "4. close" : "185.1500",
                                                      "5. volume" : "67890"
    }}
})j"));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  const RecordBatch& b = page->batch;
  ASSERT_EQ(b.num_rows(), 2u);
  EXPECT_EQ(b.column(0).string_at(1), "IBM");
  EXPECT_EQ(b.column(1).int_at(0), *dates::parse_iso("2024-01-03"));
  EXPECT_EQ(b.column(2).double_at(0), 185.15);
  EXPECT_EQ(b.column(5).double_at(1), 185.15);
  EXPECT_EQ(b.column(6).int_at(1), 67890);
  auto bad = p->parse_response(ep, {{"symbol", "IBM"}}, json_response(200, R"j({
    "Time Series (Daily)": {
  "2024-01-02" : {
    "1. open" : "n/a"
  }}
  })j"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "alphavantage daily: column open: value 'n/a' is not valid: expected double");
}

TEST(RowExtraction, CsvListingStatus) {
  auto p = make_builtin("alphavantage");
  const auto& ep = *builtin("alphavantage").endpoint("listing_status");
  net::HttpResponse r =
      json_response(200,
                    "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n"
                    "AAA,\"Atlas, Inc.\",NYSE,Stock,1999-11-18,null,Active\r\n"
                    "BBB,Beta Corp,NASDAQ,Stock,2001-02-03,2015-06-01,Delisted\r\n");
  auto page = p->parse_response(ep, {}, r);
  ASSERT_TRUE(page.has_value()) << page.error().message;
  const RecordBatch& b = page->batch;
  ASSERT_EQ(b.num_rows(), 2u);
  EXPECT_EQ(b.column(1).string_at(0), "Atlas, Inc.");
  EXPECT_EQ(b.column(4).int_at(0), *dates::parse_iso("1999-11-18"));
  EXPECT_FALSE(b.column(5).valid(0));
  EXPECT_EQ(b.column(5).int_at(1), *dates::parse_iso("2015-06-01"));
  r.body = "symbol,ipoDate\nAAA,18/11/1999\n";
  auto bad = p->parse_response(ep, {}, r);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "alphavantage listing_status: column ipoDate: value '18/11/1999' is not valid: "
            "expected date in format %Y-%m-%d");
}

TEST(RowExtraction, ArraysBinanceKlines) {
  auto p = make_builtin("binance");
  const auto& ep = *builtin("binance").endpoint("klines");
  auto page = p->parse_response(
      ep, {{"symbol", "BTCUSDT"}, {"interval", "1d"}},
      json_response(200, R"([[1704067200000,"42000.01000000","42500.00000000","41800.50000000",
        "42300.25000000","1234.50000000",1704153599999,"52000000.75000000",5678,
        "600.25000000","25000000.50000000","0"]])"));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  const RecordBatch& b = page->batch;
  ASSERT_EQ(b.num_rows(), 1u);
  EXPECT_EQ(b.column(0).string_at(0), "BTCUSDT");
  EXPECT_EQ(b.column(1).string_at(0), "1d");
  EXPECT_EQ(b.column(2).int_at(0), 1704067200000LL * 1000);  // microseconds
  EXPECT_EQ(b.column(3).double_at(0), 42000.01);
  EXPECT_EQ(b.column(8).int_at(0), 1704153599999LL * 1000);
  EXPECT_EQ(b.column(10).int_at(0), 5678);
  auto short_row = p->parse_response(ep, {}, json_response(200, R"([[1704067200000,"1"]])"));
  ASSERT_FALSE(short_row.has_value());
}

TEST(ErrorRules, AlphaVantageAlwaysHttp200) {
  auto p = make_builtin("alphavantage");
  const auto& ep = *builtin("alphavantage").endpoint("daily");
  auto kind_of = [&](const std::string& body) {
    auto r = p->parse_response(ep, {}, json_response(200, body));
    return r ? std::string("ok") : std::string(to_string(r.error().kind));
  };
  EXPECT_EQ(kind_of(R"({"Information": "Thank you for using Alpha Vantage! Our standard API rate )"
                    R"(limit is 25 requests per day. Please subscribe"})"),
            "quota_exhausted");
  EXPECT_EQ(
      kind_of(R"({"Information": "Thank you for using Alpha Vantage! Please consider )"
              R"(spreading out your free API requests more sparingly (1 request per second)."})"),
      "rate_limited");
  // The burst message mentions "premium endpoints" too; only the premium-endpoint refusal is
  // permanent.
  EXPECT_EQ(kind_of(R"({"Information": "Thank you for using Alpha Vantage! Please consider )"
                    R"(spreading out your free API requests more sparingly (3 requests per )"
                    R"(minute). You may subscribe to any of the premium plans at )"
                    R"(https://www.alphavantage.co/premium/ to raise the burst limit and )"
                    R"(instantly access all premium endpoints."})"),
            "rate_limited");
  EXPECT_EQ(kind_of(R"({"Information": "Thank you for using Alpha Vantage! This is a premium )"
                    R"(endpoint. You may subscribe to any of the premium plans."})"),
            "permanent");
  EXPECT_EQ(kind_of(R"({"Note": "Thank you for using Alpha Vantage! Our standard API call )"
                    R"(frequency is 5 calls per minute and 500 calls per day."})"),
            "rate_limited");
  EXPECT_EQ(kind_of(R"({"Error Message": "the parameter apikey is invalid or missing."})"), "auth");
  EXPECT_EQ(kind_of(R"({"Error Message": "Invalid API call."})"), "permanent");
}

TEST(ErrorRules, PolygonAndBinanceStatuses) {
  auto pg = make_builtin("polygon");
  const auto& aggs = *builtin("polygon").endpoint("aggs");
  auto pg_kind = [&](long status, const std::string& body) {
    auto r = pg->parse_response(aggs, {}, json_response(status, body));
    return r ? std::string("ok") : std::string(to_string(r.error().kind));
  };
  EXPECT_EQ(pg_kind(401, R"({"status":"ERROR","error":"Unknown API Key"})"), "auth");
  EXPECT_EQ(pg_kind(403, R"({"status":"NOT_AUTHORIZED","message":"You are not entitled"})"),
            "permanent");
  EXPECT_EQ(pg_kind(429, R"({"status":"ERROR","error":"You've exceeded the maximum requests"})"),
            "rate_limited");
  EXPECT_EQ(pg_kind(200, R"({"ticker":"AAA","status":"OK","resultsCount":0})"), "ok");
  auto bn = make_builtin("binance");
  const auto& klines = *builtin("binance").endpoint("klines");
  net::HttpResponse r = json_response(418, R"({"code":-1003,"msg":"Way too much request weight"})");
  r.headers.emplace_back("retry-after", "120");
  const auto before = std::chrono::system_clock::now();
  auto banned = bn->parse_response(klines, {}, r);
  ASSERT_FALSE(banned.has_value());
  EXPECT_EQ(banned.error().kind, ErrorKind::rate_limited);
  ASSERT_TRUE(banned.error().retry_at.has_value());
  EXPECT_GE(*banned.error().retry_at, before + std::chrono::seconds(120));
  EXPECT_EQ(klines.weight_for({}), 2);
  EXPECT_EQ(builtin("binance").endpoint("depth")->weight_for({{"limit", "500"}}), 25);
}

TEST(Pagination, PolygonNextUrlCarriesTheKeyAgain) {
  auto p = make_builtin("polygon");
  const auto& ep = *builtin("polygon").endpoint("aggs");
  Params params =
      task_params(ep, {}, "AAA", *dates::parse_iso("2024-01-02"), *dates::parse_iso("2024-03-28"));
  auto first = p->build_request(ep, params);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->url,
            "http://127.0.0.1:9/v2/aggs/ticker/AAA/range/1/day/2024-01-02/2024-03-28"
            "?adjusted=true&sort=asc&limit=50000&apiKey=pg-key-123456");
  auto page = p->parse_response(
      ep, params, json_response(200, R"({"ticker":"AAA","results":[{"t":1704171600000,"o":1.5,"c":2,
        "h":2.5,"l":1,"v":100,"vw":1.75,"n":7}],"status":"OK",
        "next_url":"http://h:1/v2/aggs/ticker/AAA/range/1/day/1704258000000/2024-03-28?cursor=abc"})"));
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_TRUE(page->next_cursor.has_value());
  EXPECT_EQ(page->batch.column(0).string_at(0), "AAA");
  auto next = p->build_follow_request(ep, *page->next_cursor);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->url,
            "http://h:1/v2/aggs/ticker/AAA/range/1/day/1704258000000/2024-03-28?cursor=abc"
            "&apiKey=pg-key-123456");
  auto last = p->parse_response(ep, params, json_response(200, R"({"status":"OK"})"));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->batch.num_rows(), 0u);
  EXPECT_FALSE(last->next_cursor.has_value());
}

TEST(Pagination, BinanceWindowInEpochMilliseconds) {
  auto p = make_builtin("binance");
  const auto& ep = *builtin("binance").endpoint("klines");
  Params params = task_params(ep, {{"interval", "1h"}}, "BTCUSDT", *dates::parse_iso("2024-01-01"),
                              *dates::parse_iso("2024-01-02"));
  auto req = p->build_request(ep, params);
  ASSERT_TRUE(req.has_value()) << req.error().message;
  EXPECT_EQ(req->url,
            "http://127.0.0.1:9/api/v3/klines?symbol=BTCUSDT&interval=1h"
            "&startTime=1704067200000&endTime=1704239999999&limit=1000");
}

TEST(ErrorRules, PresentMatchesAnyValueAndAbsence) {
  auto def = config::parse_provider(R"(provider: p
base_url: http://x
errors:
  - { when: { json: $.error, present: true }, kind: auth }
  - { when: { json: $.data, present: false }, kind: transient }
endpoints:
  e:
    rows: { items: $.data }
    columns: { a: string }
    primary_key: [a]
)",
                                    "p.yaml");
  ASSERT_TRUE(def.has_value()) << def.error().message;
  auto kind_of = [&](const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(body);
    auto e =
        classify_response(*def, json_response(200, body), &root, std::chrono::system_clock::now());
    return e ? std::string(to_string(e->kind)) : std::string("ok");
  };
  EXPECT_EQ(kind_of(R"({"error": {"code": 1}, "data": []})"), "auth");  // an object counts
  EXPECT_EQ(kind_of(R"({"other": 1})"), "transient");
  EXPECT_EQ(kind_of(R"({"data": []})"), "ok");
  auto bad = config::parse_provider(R"(provider: p
base_url: http://x
errors:
  - { when: { present: true }, kind: auth }
endpoints: {}
)",
                                    "p.yaml");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("'present' need 'json'"), std::string::npos)
      << bad.error().message;
}
