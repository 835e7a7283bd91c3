// The mongodb sink as the engine sees it (kind `mongodb` from the registry, on the database-sink
// framework) against the loopback wire-protocol recorder: the order of the commands of open and
// of a landing (rows, then the journaled marker), batch sizes, replace, schema drift, reconnects
// after a server restart and a landing re-run after a lost answer, `sinks check`, errors that
// name the sink and host and never the password. Flat memory: sink_mongodb_memory.sh.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/secrets.hpp"
#include "mongo_test_support.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/mongodb/mongo_sink.hpp"
#include "sink/registry.hpp"

namespace finsync::sink::mongodb {
namespace {

using namespace test;

TableSpec bars_table(const std::string& plan = "plan-1") {
  return TableSpec{plan,         "daily",          bars_schema(), {"ts_code", "trade_date"},
                   "trade_date", WriteMode::upsert};
}

std::unique_ptr<Sink> make_sink(const SinkSpec& spec) {
  SinkRegistry registry;
  register_mongodb_sink(registry);
  auto s = registry.create(spec, SinkContext{});
  EXPECT_TRUE(s) << s.error().message;
  if (!s) return nullptr;
  if (auto* db = dynamic_cast<db::DbSink*>(s->get())) db->set_sleep([](auto) {});
  return std::move(*s);
}

Checkpoint checkpoint(const std::string& task, int64_t rows, int* persisted = nullptr) {
  Checkpoint cp;
  cp.task_id = task;
  cp.window = "20240101-20240131";
  cp.rows = rows;
  cp.persist = [persisted]() -> Result<void> {
    if (persisted != nullptr) ++*persisted;
    return {};
  };
  return cp;
}

// "update daily": a command and the collection it names ("?" for none), leaving out the
// driver's own (isMaster, ping, endSessions).
std::vector<std::string> names(const std::vector<RecordedCommand>& cmds) {
  std::vector<std::string> out;
  for (const auto& c : cmds) {
    if (c.name == "isMaster" || c.name == "ping" || c.name == "endSessions") continue;
    const json first = c.json.empty() ? json() : body(c).begin().value();
    out.push_back(c.name + " " + (first.is_string() ? first.get<std::string>() : "?"));
  }
  return out;
}

TEST(SinkMongo, OpenCreatesTheMarkerIndexesThenTheCollection) {
  MongoRecorder rec;
  auto sink = make_sink(spec_for(rec));
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->multi_writer());
  ASSERT_TRUE(sink->open(bars_table()));
  EXPECT_EQ(names(rec.commands()),
            (std::vector<std::string>{"createIndexes _finsync_landed", "listCollections ?",
                                      "create daily", "createIndexes daily"}));
}

TEST(SinkMongo, ALandingSendsRowsInBatchSizePiecesThenOneJournaledMarker) {
  MongoRecorder::Options o;
  o.record_documents = false;
  MongoRecorder rec(o);
  SinkSpec spec = spec_for(rec);
  spec.batch_size = 10'000;
  auto sink = make_sink(spec);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->open(bars_table()));
  rec.clear();
  const RecordBatch a = many_rows(12'000), b = many_rows(13'000);
  ASSERT_TRUE(sink->write(a));
  ASSERT_TRUE(sink->write(b));
  int persisted = 0;
  auto r = sink->commit(checkpoint("t1", 25'000, &persisted));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(persisted, 1);
  const auto cmds = rec.commands();
  std::vector<std::string> order;
  std::vector<int64_t> sizes;
  for (const auto& c : cmds) {
    if (c.name != "update") continue;
    sizes.push_back(c.documents);
    order.push_back(c.json.empty() ? "daily" : body(c)["update"].get<std::string>());
  }
  // The framework cuts each buffered batch into batch_size pieces: 10,000 + 2,000 + 10,000 +
  // 3,000; the marker comes last.
  EXPECT_EQ(sizes, (std::vector<int64_t>{10'000, 2'000, 10'000, 3'000, 1}));
  EXPECT_EQ(order.back(), "_finsync_landed");
  const json marker = body(rec.commands("update").back());
  EXPECT_EQ(marker["writeConcern"], json::parse(R"({"j": true})"));
  EXPECT_EQ(marker["updates"][0]["u"]["rows"], json::parse(R"({"$numberLong": "25000"})"));
  auto landed = sink->landed_tasks("plan-1");
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 25'000}}));
  auto stats = sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->commits, 1);
  EXPECT_EQ(stats->reconnects, 0);
}

TEST(SinkMongo, ALaterRunSeesTheMarkersOfAnEarlierOne) {
  MongoRecorder rec;
  {
    auto sink = make_sink(spec_for(rec));
    ASSERT_TRUE(sink->open(bars_table()));
    ASSERT_TRUE(sink->write(three_rows()));
    ASSERT_TRUE(sink->commit(checkpoint("t1", 3)));
    ASSERT_TRUE(sink->close());
  }
  auto again = make_sink(spec_for(rec));
  ASSERT_TRUE(again->open(bars_table()));
  auto landed = again->landed_tasks("plan-1");
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 3}}));
  auto none = again->landed_tasks("another-plan");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(SinkMongo, AServerRestartMidLandingReconnectsAndLandsItWhole) {
  MongoRecorder rec;
  auto sink = make_sink(spec_for(rec));
  ASSERT_TRUE(sink->open(bars_table()));
  rec.clear();
  ASSERT_TRUE(sink->write(three_rows()));
  rec.drop_next("update");  // the server goes away while the rows are in flight
  int persisted = 0;
  auto r = sink->commit(checkpoint("t1", 3, &persisted));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(persisted, 1);
  const auto cmds = rec.commands();
  // Connection 1 carried the dropped rows; connection 2 asked whether the landing had committed
  // (its marker), then sent the same rows again and the marker.
  std::vector<std::string> second;
  for (const auto& c : cmds)
    if (c.connection == 2) second.push_back(c.name);
  EXPECT_EQ(second, (std::vector<std::string>{"isMaster", "ping", "find", "update", "update"}));
  const auto updates = rec.commands("update");
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(body(updates[0])["updates"], body(updates[1])["updates"]);
  EXPECT_EQ(body(updates[2])["update"], "_finsync_landed");
  auto stats = sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->reconnects, 1);
  EXPECT_EQ(stats->retries, 1);
}

TEST(SinkMongo, ACrashBetweenRowsAndMarkerReLandsTheSameUpserts) {
  MongoRecorder rec;
  auto sink = make_sink(spec_for(rec));
  ASSERT_TRUE(sink->open(bars_table()));
  rec.clear();
  ASSERT_TRUE(sink->write(three_rows()));
  // The rows are written; the server dies before the marker is.
  rec.drop_next("update", "_finsync_landed");
  auto r = sink->commit(checkpoint("t1", 3));
  ASSERT_TRUE(r) << r.error().message;
  std::vector<std::string> order;
  for (const auto& c : rec.commands())
    if (c.name == "update" || c.name == "find")
      order.push_back(c.name + " " + body(c).begin().value().get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"update daily", "update _finsync_landed",
                                             "find _finsync_landed", "update daily",
                                             "update _finsync_landed"}));
  // Re-landing sends the very same upserts by key: the documents end as they were.
  const auto updates = rec.commands("update");
  EXPECT_EQ(body(updates[0])["updates"], body(updates[2])["updates"]);
  auto landed = sink->landed_tasks("plan-1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 3}}));
  auto stats = sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->retries, 1);
}

TEST(SinkMongo, AMarkerWhoseAnswerWasLostIsFoundAndNotLandedTwice) {
  MongoRecorder rec;
  auto sink = make_sink(spec_for(rec));
  ASSERT_TRUE(sink->open(bars_table()));
  rec.clear();
  ASSERT_TRUE(sink->write(three_rows()));
  // The marker is written, but its answer never comes back.
  rec.lose_answer_next("update", "_finsync_landed");
  auto r = sink->commit(checkpoint("t1", 3));
  ASSERT_TRUE(r) << r.error().message;
  std::vector<std::string> order;
  for (const auto& c : rec.commands())
    if (c.name == "update" || c.name == "find")
      order.push_back(c.name + " " + body(c).begin().value().get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"update daily", "update _finsync_landed",
                                             "find _finsync_landed"}));
  const json find = body(rec.commands("find")[0]);
  EXPECT_TRUE(find["filter"].contains("commit_id")) << find.dump();
  auto stats = sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->reconnects, 1);
  EXPECT_EQ(stats->retries, 0);
}

TEST(SinkMongo, ReplaceEmptiesTheCollectionOncePerPlanDefinition) {
  MongoRecorder rec;
  SinkSpec spec = spec_for(rec);
  spec.mode = WriteMode::replace;
  {
    auto sink = make_sink(spec);
    ASSERT_TRUE(sink->open(bars_table()));
    rec.clear();
    ASSERT_TRUE(sink->write(three_rows()));
    ASSERT_TRUE(sink->commit(checkpoint("t1", 3)));
    ASSERT_TRUE(sink->write(three_rows()));
    ASSERT_TRUE(sink->commit(checkpoint("t2", 3)));
    // The first landing asks for the plan's markers again before it deletes (another process
    // may have landed some since open).
    EXPECT_EQ(names(rec.commands()),
              (std::vector<std::string>{"find _finsync_landed", "delete daily", "update daily",
                                        "update _finsync_landed", "update daily",
                                        "update _finsync_landed"}));
    EXPECT_EQ(body(rec.commands("delete")[0])["deletes"],
              json::parse(R"([{"q": {}, "limit": {"$numberInt": "0"}}])"));
  }
  // A resumed run of the same plan keeps what the first one landed.
  rec.clear();
  auto resumed = make_sink(spec);
  ASSERT_TRUE(resumed->open(bars_table()));
  ASSERT_TRUE(resumed->write(three_rows()));
  ASSERT_TRUE(resumed->commit(checkpoint("t3", 3)));
  EXPECT_TRUE(rec.commands("delete").empty());
}

// verify: one aggregate groups the documents by symbol and UTC day of the BSON date; its
// answer becomes each symbol's days, ascending (a day before 1970 included).
TEST(SinkMongo, LandedDaysAreOneAggregateBySymbolAndUtcDay) {
  MongoRecorder rec;
  rec.reply_next("listCollections", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.$cmd.listCollections", "firstBatch": [{"name": "daily", "options": {
      "validator": {"$jsonSchema": {"bsonType": "object", "required": ["ts_code", "trade_date"],
        "properties": {"ts_code": {"bsonType": "string"},
          "trade_date": {"bsonType": "date"}}}}}}]}})");
  rec.reply_next("listIndexes", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.daily", "firstBatch": [{"v": 2, "key": {"ts_code": 1, "trade_date": 1},
      "name": "finsync_key", "unique": true}]}})");
  rec.reply_next("aggregate", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.daily", "firstBatch": [{"_id": {"s": "B", "d": 19725.0}},
      {"_id": {"s": "A", "d": {"$numberLong": "19724"}}}, {"_id": {"s": "A", "d": 19723.0}},
      {"_id": {"s": "A", "d": -1.0}}]}})");
  auto sink = make_sink(spec_for(rec));
  ASSERT_TRUE(sink);
  auto days = sink->landed_days(bars_table(), "ts_code");
  ASSERT_TRUE(days) << days.error().message;
  EXPECT_EQ(*days, (std::map<std::string, std::vector<int32_t>>{{"A", {-1, 19723, 19724}},
                                                                {"B", {19725}}}));
  const auto cmds = rec.commands("aggregate");
  ASSERT_EQ(cmds.size(), 1u);
  const json a = body(cmds[0]);
  EXPECT_EQ(a["aggregate"], "daily") << a.dump();
  EXPECT_EQ(a["allowDiskUse"], true) << a.dump();
  EXPECT_EQ(a["pipeline"], json::parse(R"([{"$match": {"trade_date": {"$ne": null}}},
      {"$group": {"_id": {"s": "$ts_code", "d": {"$floor": {"$divide": [{"$toLong": "$trade_date"},
      {"$numberLong": "86400000"}]}}}}}])"))
      << a.dump();
}

TEST(SinkMongo, SchemaDriftFailNamesTheDifferenceAndEvolveExtendsTheValidator) {
  MongoRecorder rec;
  const std::string existing = R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.$cmd.listCollections", "firstBatch": [{"name": "daily", "options": {
      "validator": {"$jsonSchema": {"bsonType": "object", "required": ["ts_code", "trade_date"],
        "properties": {"ts_code": {"bsonType": "string"}, "trade_date": {"bsonType": "date"},
          "close": {"bsonType": ["double", "null"]}, "vol": {"bsonType": ["long", "null"]},
          "ts": {"bsonType": ["date", "null"]}}}}}}]}})";
  const std::string key = R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.daily", "firstBatch": [{"v": 2, "key": {"ts_code": 1, "trade_date": 1},
      "name": "finsync_key", "unique": true}]}})";
  {
    rec.reply_next("listCollections", existing);
    rec.reply_next("listIndexes", key);
    auto sink = make_sink(spec_for(rec));
    auto r = sink->open(bars_table());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find("missing column halted bool"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("mongodb sink 127.0.0.1:" + std::to_string(rec.port()) +
                                     "/market table daily"),
              std::string::npos)
        << r.error().message;
  }
  rec.reply_next("listCollections", existing);
  rec.reply_next("listIndexes", key);
  rec.reply_next("listCollections", existing);  // add_column reads the validator again
  SinkSpec spec = spec_for(rec);
  spec.schema_drift = SchemaDrift::evolve;
  auto sink = make_sink(spec);
  rec.clear();
  auto r = sink->open(bars_table());
  ASSERT_TRUE(r) << r.error().message;
  const auto mod = rec.commands("collMod");
  ASSERT_EQ(mod.size(), 1u);
  EXPECT_EQ(body(mod[0])["validator"]["$jsonSchema"]["properties"]["halted"],
            json::parse(R"({"bsonType": ["bool", "null"]})"));
  EXPECT_TRUE(rec.commands("create").empty());
  auto stats = sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->columns_added, 1);
}

TEST(SinkMongo, CheckReportsTheServerAndChangesNothing) {
  MongoRecorder rec;
  auto sink = make_sink(spec_for(rec));
  auto c = sink->check(bars_table());
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->store, "mongodb 127.0.0.1:" + std::to_string(rec.port()) + "/market");
  EXPECT_EQ(c->server, "MongoDB 6.0.0");
  EXPECT_FALSE(c->table_exists);
  for (const auto& cmd : rec.commands())
    EXPECT_TRUE(cmd.name != "create" && cmd.name != "createIndexes" && cmd.name != "update" &&
                cmd.name != "insert" && cmd.name != "collMod")
        << cmd.name;
}

TEST(SinkMongo, WrongPasswordNamesTheSinkAndHostNotThePassword) {
  MongoRecorder rec;
  for (const bool inline_password : {false, true}) {
    SinkSpec spec = spec_for(rec);
    const std::string pw = "Secret-pw-" + std::to_string(inline_password);
    spec.dsn = "mongodb://trader" + (inline_password ? ":" + pw : std::string()) +
               "@127.0.0.1:" + std::to_string(rec.port()) + "/market";
    if (!inline_password) spec.password = pw;
    auto sink = make_sink(spec);
    ASSERT_TRUE(sink);
    auto r = sink->open(bars_table());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::auth);
    const std::string& m = r.error().message;
    EXPECT_NE(m.find("mongodb sink 127.0.0.1:" + std::to_string(rec.port()) + "/market"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("authentication failed for user 'trader'"), std::string::npos) << m;
    EXPECT_EQ(m.find(pw), std::string::npos) << m;
    EXPECT_EQ(secrets::mask("x " + pw).find(pw), std::string::npos);
  }
}

TEST(SinkMongo, UnknownSpecKeysAreRejected) {
  MongoRecorder rec;
  SinkSpec spec = spec_for(rec);
  spec.options["partition"] = "x";
  SinkRegistry registry;
  register_mongodb_sink(registry);
  auto s = registry.create(spec, SinkContext{});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(s.error().message.find("'partition' is not an option of mongodb sinks"),
            std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace finsync::sink::mongodb
