// The dolphindb sink against a real DolphinDB server, when FINSYNC_TEST_DOLPHINDB names one
// (dolphindb://user:password@host:8848, the password percent-encoded); otherwise every test here
// is skipped, and ctest reports it as skipped, never passed (neither Debian 12 nor npm ships a
// DolphinDB server; sink_dolphindb.sh covers the bytes against the official client).
//
// What it checks, reading back with the sink's connection (a separate session): a DFS table and
// a shared in-memory table hold exactly the rows landed, typed as the type mapping says; an
// upsert of a corrected row replaces it and a re-landing adds nothing; a new sink finds the
// markers; a wrong password is an auth error naming the user, not the password. Each test works
// in a database or table of its own and drops it at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "core/dates.hpp"
#include "sink/dolphindb/ddb_client.hpp"
#include "sink/dolphindb/ddb_dsn.hpp"
#include "sink/registry.hpp"

namespace finsync::sink::dolphindb {
namespace {

std::string live_dsn() {
  const char* d = std::getenv("FINSYNC_TEST_DOLPHINDB");
  return d != nullptr ? d : "";
}

#define REQUIRE_LIVE_SERVER()                                                                  \
  if (live_dsn().empty())                                                                      \
  GTEST_SKIP() << "FINSYNC_TEST_DOLPHINDB is unset: no DolphinDB server to test against ("     \
                  "tests/integration/sink_dolphindb.sh checks the bytes against the official " \
                  "client)"

const Schema kSchema{{{"ts_code", DataType::string},
                      {"trade_date", DataType::date},
                      {"close", DataType::float64},
                      {"vol", DataType::int64}}};

RecordBatch bars(std::initializer_list<std::tuple<const char*, int32_t, double, int64_t>> rows) {
  RecordBatch b(kSchema);
  for (const auto& [sym, day, close, vol] : rows) {
    b.column(0).append_string(sym);
    b.column(1).append_int(day);
    b.column(2).append_double(close);
    b.column(3).append_int(vol);
  }
  return b;
}

Checkpoint checkpoint(const std::string& task, int64_t rows) {
  Checkpoint cp;
  cp.task_id = task;
  cp.window = "20240101-20240131";
  cp.rows = rows;
  cp.persist = [] { return Result<void>{}; };
  return cp;
}

class SinkDolphindbLive : public ::testing::Test {
 protected:
  void SetUp() override {
    if (live_dsn().empty()) return;
    auto d = parse_dsn(live_dsn());
    ASSERT_TRUE(d) << d.error().message;
    dsn_ = *d;
    auto c = Client::open(dsn_);
    ASSERT_TRUE(c) << c.error().message;
    reader_ = std::move(*c);
  }
  void TearDown() override {
    if (!reader_) return;
    for (const auto& s : cleanup_) (void)reader_->run(s);
  }

  std::unique_ptr<Sink> sink(const std::string& table, const std::string& database) {
    SinkRegistry reg;
    register_builtin_sinks(reg);
    SinkSpec spec;
    spec.kind = "dolphindb";
    spec.dsn = live_dsn();
    spec.table = table;
    if (!database.empty()) spec.options["database"] = database;
    auto s = reg.create(spec, SinkContext{".", ""});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  // Lands rows as one task, through a new sink.
  void land(const std::string& table, const std::string& database, const RecordBatch& b,
            const std::string& task) {
    auto s = sink(table, database);
    ASSERT_TRUE(s);
    auto o = s->open(TableSpec{
        "live#1", table, kSchema, {"ts_code", "trade_date"}, "trade_date", WriteMode::upsert});
    ASSERT_TRUE(o) << o.error().message;
    ASSERT_TRUE(s->write(b));
    auto c = s->commit(checkpoint(task, int64_t(b.num_rows())));
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE(s->close());
  }

  // "sym day close vol|..." ordered by the key.
  std::string rows(const std::string& from) {
    auto r = reader_->run("select ts_code, trade_date, close, vol from " + from +
                          " order by ts_code, trade_date");
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return "";
    EXPECT_EQ(r->items[0].type, Type::symbol);
    EXPECT_EQ(r->items[1].type, Type::date);
    EXPECT_EQ(r->items[2].type, Type::double_);
    EXPECT_EQ(r->items[3].type, Type::long_);
    std::string out;
    for (size_t i = 0; i < r->size(); ++i)
      out += (i ? "|" : "") + r->items[0].strings[i] + " " +
             dates::iso(int32_t(r->items[1].ints[i])) + " " +
             std::to_string(r->items[2].doubles[i]) + " " + std::to_string(r->items[3].ints[i]);
    return out;
  }

  Dsn dsn_;
  std::unique_ptr<Client> reader_;
  std::vector<std::string> cleanup_;
};

const int32_t D1 = dates::days_from_civil(2024, 1, 2), D2 = dates::days_from_civil(2024, 1, 3);

TEST_F(SinkDolphindbLive, DfsTableHoldsTheRowsAndUpsertReplacesACorrectedOne) {
  REQUIRE_LIVE_SERVER();
  const std::string db = "dfs://finsync_live_" + std::to_string(getpid());
  cleanup_.push_back("if (existsDatabase(\"" + db + "\")) dropDatabase(\"" + db + "\")");
  land("bars", db, bars({{"A", D1, 1.5, 10}, {"B", D1, 2.25, 20}}), "live/A");
  land("bars", db, bars({{"A", D1, 1.75, 11}, {"A", D2, 3.0, 30}}), "live/A2");
  const std::string from = "loadTable(\"" + db + "\", \"bars\")";
  EXPECT_EQ(rows(from),
            "A 2024-01-02 1.750000 11|A 2024-01-03 3.000000 30|B 2024-01-02 2.250000 20");
  auto s = sink("bars", db);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->open(TableSpec{
      "live#1", "bars", kSchema, {"ts_code", "trade_date"}, "trade_date", WriteMode::upsert}));
  auto landed = s->landed_tasks("live#1");
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"live/A", 2}, {"live/A2", 2}}));
}

TEST_F(SinkDolphindbLive, InMemoryTableIsSharedAndKeyed) {
  REQUIRE_LIVE_SERVER();
  const std::string t = "finsync_live_" + std::to_string(getpid());
  cleanup_.push_back("undef(\"" + t + "\", SHARED)");
  cleanup_.push_back("undef(\"_finsync_landed\", SHARED)");
  land(t, "", bars({{"A", D1, 1.5, 10}}), "mem/A");
  land(t, "", bars({{"A", D1, 1.25, 12}}), "mem/A");
  EXPECT_EQ(rows(t), "A 2024-01-02 1.250000 12");
}

TEST_F(SinkDolphindbLive, WrongPasswordIsAuth) {
  REQUIRE_LIVE_SERVER();
  Dsn wrong = dsn_;
  wrong.password = "not-the-password-" + std::to_string(getpid());
  auto c = Client::open(wrong);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::auth);
  EXPECT_NE(c.error().message.find("'" + dsn_.user + "'"), std::string::npos);
  EXPECT_EQ(c.error().message.find(wrong.password), std::string::npos);
}

}  // namespace
}  // namespace finsync::sink::dolphindb
