// 1,000,000 daily-bar rows into the mongodb sink, against a bare libmongoc bulk loop over the same
// rows in the same run, both sending to the loopback wire-protocol recorder (Debian ships no
// MongoDB server, so the recorder stands in for one and only counts what it receives).
//
//   finsync   the sink from the registry (the database-sink framework: buffer, value checks,
//             batch_size pieces, markers), fed 6000-row RecordBatches, one commit per 5 batches
//   bare      the loop a hand-written loader would be: the same documents built with bson_append_*
//             straight from the column vectors, replace_one(upsert) / insert into one bulk per
//             6000 rows, libmongoc's default options (document validation on)
//
// Prints rows/s of each, bytes on the wire, and the ratio. Usage: mongo_sink_bench [ROWS]
#include <mongoc/mongoc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "mongo_recorder.hpp"
#include "sink/mongodb/mongo_sink.hpp"
#include "sink/registry.hpp"

using namespace finsync;
using sink::WriteMode;

namespace {

constexpr size_t kPage = 6000;
const char* kDoubles[] = {"open",   "high",    "low", "close", "pre_close",
                          "change", "pct_chg", "vol", "amount"};

Schema bar_schema() {
  Schema s{{{"ts_code", DataType::string}, {"trade_date", DataType::date}}};
  for (const char* d : kDoubles) s.fields.push_back({d, DataType::float64});
  return s;
}

// Pages of 6000 rows: 1000 symbols x consecutive days, 2-decimal prices.
std::vector<RecordBatch> make_pages(size_t rows) {
  std::vector<RecordBatch> pages;
  for (size_t i = 0; i < rows; ++i) {
    if (i % kPage == 0) pages.emplace_back(bar_schema());
    RecordBatch& b = pages.back();
    b.column(0).append_string(fmt::format("{:06d}.SZ", i % 1000));
    b.column(1).append_int(16436 + int64_t(i / 1000));
    const double c = 10 + double(i % 997) / 100.0;
    const double v[] = {c - 0.1,   c + 0.2, c - 0.3, c, c - 0.05, 0.05, 0.5, 123456.0 + double(i),
                        9876543.21};
    for (int k = 0; k < 9; ++k) b.column(2 + k).append_double(v[k]);
  }
  return pages;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t wire_bytes(const testing::MongoRecorder& rec, const char* command) {
  int64_t n = 0;
  for (const auto& c : rec.commands(command)) n += c.bytes;
  return n;
}

struct Run {
  double seconds = 0;
  int64_t bytes = 0;
  size_t commands = 0;
};

Run run_finsync(const std::vector<RecordBatch>& pages, WriteMode mode) {
  testing::MongoRecorder::Options o;
  o.record_documents = false;
  testing::MongoRecorder rec(o);
  sink::SinkSpec spec;
  spec.kind = "mongodb";
  spec.dsn = rec.uri("bench");
  spec.mode = mode;
  sink::SinkRegistry registry;
  sink::mongodb::register_mongodb_sink(registry);
  auto s = registry.create(spec, sink::SinkContext{});
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().message.c_str());
    std::exit(1);
  }
  auto& sink = **s;
  sink::TableSpec t{"bench-plan", "daily", bar_schema(), {"ts_code", "trade_date"},
                    "trade_date", mode};
  if (auto r = sink.open(t); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    std::exit(1);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<sink::Checkpoint> cps;
  for (size_t i = 0; i < pages.size(); ++i) {
    if (auto r = sink.write(pages[i]); !r) std::exit(1);
    sink::Checkpoint cp;
    cp.task_id = "t" + std::to_string(i);
    cp.rows = int64_t(pages[i].num_rows());
    cps.push_back(cp);
    if (cps.size() == 5 || i + 1 == pages.size()) {
      if (auto r = sink.commit(cps); !r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        std::exit(1);
      }
      cps.clear();
    }
  }
  Run out;
  out.seconds = seconds_since(t0);
  (void)sink.close();
  const char* cmd = mode == WriteMode::append ? "insert" : "update";
  out.bytes = wire_bytes(rec, cmd);
  out.commands = rec.commands(cmd).size();
  return out;
}

Run run_bare(const std::vector<RecordBatch>& pages, bool upsert) {
  testing::MongoRecorder::Options o;
  o.record_documents = false;
  testing::MongoRecorder rec(o);
  mongoc_client_t* client = mongoc_client_new(rec.uri("bench").c_str());
  mongoc_collection_t* coll = mongoc_client_get_collection(client, "bench", "daily");
  bson_t* ordered = BCON_NEW("ordered", BCON_BOOL(upsert));
  bson_t* upsert_opts = BCON_NEW("upsert", BCON_BOOL(true));
  const auto t0 = std::chrono::steady_clock::now();
  bson_t doc = BSON_INITIALIZER, q = BSON_INITIALIZER, reply;
  bson_error_t err;
  for (const auto& b : pages) {
    mongoc_bulk_operation_t* bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, ordered);
    const auto& code = b.column(0).strings();
    const auto& day = b.column(1).ints();
    for (size_t r = 0; r < b.num_rows(); ++r) {
      bson_reinit(&doc);
      BSON_APPEND_UTF8(&doc, "ts_code", code[r].c_str());
      BSON_APPEND_DATE_TIME(&doc, "trade_date", day[r] * 86'400'000);
      for (int k = 0; k < 9; ++k)
        BSON_APPEND_DOUBLE(&doc, kDoubles[k], b.column(2 + k).doubles()[r]);
      if (upsert) {
        bson_reinit(&q);
        BSON_APPEND_UTF8(&q, "ts_code", code[r].c_str());
        BSON_APPEND_DATE_TIME(&q, "trade_date", day[r] * 86'400'000);
        mongoc_bulk_operation_replace_one_with_opts(bulk, &q, &doc, upsert_opts, &err);
      } else {
        mongoc_bulk_operation_insert_with_opts(bulk, &doc, nullptr, &err);
      }
    }
    if (!mongoc_bulk_operation_execute(bulk, &reply, &err)) {
      std::fprintf(stderr, "bare bulk: %s\n", err.message);
      std::exit(1);
    }
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
  }
  Run out;
  out.seconds = seconds_since(t0);
  bson_destroy(&doc);
  bson_destroy(&q);
  bson_destroy(ordered);
  bson_destroy(upsert_opts);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  const char* cmd = upsert ? "update" : "insert";
  out.bytes = wire_bytes(rec, cmd);
  out.commands = rec.commands(cmd).size();
  return out;
}

void report(const char* what, size_t rows, const Run& f, const Run& b) {
  std::printf(
      "%-7s finsync %8.0f rows/s (%.2f s, %zu commands, %.1f MB)   bare libmongoc "
      "%8.0f rows/s (%.2f s, %zu commands, %.1f MB)   finsync/bare %.2f\n",
      what, double(rows) / f.seconds, f.seconds, f.commands, double(f.bytes) / 1e6,
      double(rows) / b.seconds, b.seconds, b.commands, double(b.bytes) / 1e6,
      b.seconds / f.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  mongoc_init();
  const auto pages = make_pages(rows);
  // Each side twice, alternating, the better run kept: the machine is shared.
  Run fu, bu, fa, ba;
  for (int i = 0; i < 2; ++i) {
    Run r = run_finsync(pages, WriteMode::upsert);
    if (i == 0 || r.seconds < fu.seconds) fu = r;
    r = run_bare(pages, true);
    if (i == 0 || r.seconds < bu.seconds) bu = r;
    r = run_finsync(pages, WriteMode::append);
    if (i == 0 || r.seconds < fa.seconds) fa = r;
    r = run_bare(pages, false);
    if (i == 0 || r.seconds < ba.seconds) ba = r;
  }
  std::printf("%zu rows, %zu pages of %zu\n", rows, pages.size(), kPage);
  report("upsert", rows, fu, bu);
  report("append", rows, fa, ba);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS %.1f MiB (the 1,000,000 input rows included)\n",
              double(ru.ru_maxrss) / 1024);
  return 0;
}
