// Parsing a 6000-row Tushare `daily` page into a RecordBatch: simdjson (what finsync uses)
// against nlohmann::json on the same page, in the same run. Prints rows/s and the ratio.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/catalog.hpp"
#include "core/dates.hpp"
#include "provider/row_extract.hpp"

using namespace finsync;

namespace {

constexpr int kRows = 6000;

std::string make_page() {
  std::string s =
      R"({"request_id":"x","code":0,"msg":"","data":{"fields":["ts_code","trade_date",)"
      R"("open","high","low","close","pre_close","change","pct_chg","vol","amount"],"items":[)";
  for (int i = 0; i < kRows; ++i) {
    const double c = 10 + (i % 997) / 100.0;
    s += fmt::format(
        R"({}["{:06d}.SZ","{}",{:.2f},{:.2f},{:.2f},{:.2f},{:.2f},{:.2f},{:.2f},{:.2f},{:.2f}])",
        i ? "," : "", i % 50, dates::format(16436 + i, "%Y%m%d"), c - 0.1, c + 0.2, c - 0.3, c,
        c - 0.05, 0.05, 0.5, 123456.78 + i, 9876543.21 + i);
  }
  return s + "]}}";
}

const std::string& page() {
  static const std::string p = make_page();
  return p;
}

const config::EndpointDef& daily() {
  static const config::Catalog c = *config::load_catalog("");
  return *c.find("tushare")->endpoint("daily");
}

void BM_simdjson(benchmark::State& state) {
  simdjson::dom::parser parser;
  for (auto _ : state) {
    auto b = provider::extract_rows(daily().rows, daily().columns, page(), parser);
    if (!b || b->num_rows() != kRows) state.SkipWithError("bad parse");
    benchmark::DoNotOptimize(b);
  }
  state.counters["rows/s"] =
      benchmark::Counter(double(kRows) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// The same mapping written against nlohmann::json: parse the document, then convert each cell.
void BM_nlohmann(benchmark::State& state) {
  const auto& ep = daily();
  for (auto _ : state) {
    auto doc = nlohmann::json::parse(page());
    RecordBatch b(ep.schema());
    const auto& fields = doc["data"]["fields"];
    std::vector<int> map;
    for (const auto& f : fields) map.push_back(b.schema().index_of(f.get<std::string>()));
    for (const auto& item : doc["data"]["items"]) {
      for (size_t j = 0; j < item.size(); ++j) {
        const int c = map[j];
        if (c < 0) continue;
        const auto& v = item[j];
        Column& col = b.column(size_t(c));
        if (v.is_null())
          col.append_null();
        else if (col.type() == DataType::string)
          col.append_string(v.get<std::string>());
        else if (col.type() == DataType::float64)
          col.append_double(v.get<double>());
        else if (col.type() == DataType::date)
          col.append_int(*dates::parse(v.get<std::string>(), ep.columns[size_t(c)].format));
        else
          col.append_int(v.get<int64_t>());
      }
    }
    if (b.num_rows() != kRows) state.SkipWithError("bad parse");
    benchmark::DoNotOptimize(b);
  }
  state.counters["rows/s"] =
      benchmark::Counter(double(kRows) * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_simdjson)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_nlohmann)->Unit(benchmark::kMillisecond);

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) seconds_[r.benchmark_name()] = r.GetAdjustedCPUTime();
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double s = seconds_["BM_simdjson"], n = seconds_["BM_nlohmann"];
    if (s > 0)
      std::printf(
          "\n6000-row page (CPU time): simdjson %.0f rows/s, nlohmann %.0f rows/s, ratio %.2fx\n",
          kRows / (s / 1e3), kRows / (n / 1e3), n / s);
  }

 private:
  std::map<std::string, double> seconds_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
