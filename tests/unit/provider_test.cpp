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
