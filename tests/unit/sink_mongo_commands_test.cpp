// The mongodb driver's commands, step by step, against the loopback wire-protocol recorder
// (tests/tools/mongo_recorder.hpp): the real libmongoc driver sends them to a recorder that
// decodes them, and these tests assert on the decoded commands (the documents and their BSON
// types, the upsert filters, the index spec, ordered/unordered bulks and their sizes, the
// markers and their write concern) and on how the driver classifies what the server answers.
// Debian ships no MongoDB server. The sink as the engine sees it: sink_mongo_test.cpp.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "mongo_test_support.hpp"
#include "sink/db/driver.hpp"
#include "sink/mongodb/bson_rows.hpp"
#include "sink/mongodb/mongo_sink.hpp"

namespace finsync::sink::mongodb {
namespace {

using namespace test;

struct Connected {
  std::unique_ptr<db::Driver> driver;
  std::unique_ptr<db::Session> session;
};

Connected connect(const MongoRecorder& rec) {
  Connected c;
  auto d = make_driver(spec_for(rec));
  EXPECT_TRUE(d) << d.error().message;
  if (!d) return c;
  c.driver = std::move(*d);
  auto s = c.driver->connect();
  EXPECT_TRUE(s) << s.error().message;
  if (s) c.session = std::move(*s);
  return c;
}

TEST(SinkMongoCommands, ConnectHandshakesThenPings) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  const auto cmds = rec.commands();
  ASSERT_GE(cmds.size(), 2u);
  // libmongoc 1.23 opens with the legacy OP_QUERY isMaster, then speaks OP_MSG.
  EXPECT_EQ(cmds[0].op, "OP_QUERY");
  EXPECT_EQ(cmds[0].name, "isMaster");
  EXPECT_EQ(body(cmds[0])["client"]["application"]["name"], "finsync");
  EXPECT_EQ(cmds[1].op, "OP_MSG");
  EXPECT_EQ(cmds[1].name, "ping");
  EXPECT_EQ(cmds[1].db, "admin");
  EXPECT_EQ(c.driver->where(), "127.0.0.1:" + std::to_string(rec.port()) + "/market");
  auto v = c.session->server_version();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, "MongoDB 6.0.0");
}

TEST(SinkMongoCommands, CreateTableSendsValidatorThenUniqueKeyIndex) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  ASSERT_TRUE(c.session->create_table(bars_design()));
  const auto cmds = rec.commands();
  ASSERT_EQ(cmds.size(), 2u);
  ASSERT_EQ(cmds[0].name, "create");
  const json create = body(cmds[0]);
  EXPECT_EQ(create["create"], "daily");
  EXPECT_EQ(create["$db"], "market");
  EXPECT_EQ(create["validator"], json::parse(R"({"$jsonSchema": {
      "bsonType": "object",
      "required": ["ts_code", "trade_date"],
      "properties": {
        "ts_code": {"bsonType": "string"},
        "trade_date": {"bsonType": "date"},
        "close": {"bsonType": ["double", "null"]},
        "vol": {"bsonType": ["long", "null"]},
        "ts": {"bsonType": ["date", "null"]},
        "halted": {"bsonType": ["bool", "null"]}}}})"));
  EXPECT_EQ(create["validationLevel"], "strict");
  EXPECT_EQ(create["validationAction"], "error");
  ASSERT_EQ(cmds[1].name, "createIndexes");
  const json index = body(cmds[1]);
  EXPECT_EQ(index["createIndexes"], "daily");
  // Key order is the primary key's: ts_code first, then trade_date.
  EXPECT_EQ(index["indexes"], json::parse(R"([{"key": {"ts_code": {"$numberInt": "1"},
      "trade_date": {"$numberInt": "1"}}, "name": "finsync_key", "unique": true}])"));
}

TEST(SinkMongoCommands, AppendModeStillGetsTheUniqueIndex) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  ASSERT_TRUE(c.session->create_table(bars_design(WriteMode::append)));
  const auto idx = rec.commands("createIndexes");
  ASSERT_EQ(idx.size(), 1u);
  EXPECT_EQ(body(idx[0])["indexes"][0]["unique"], true);
}

TEST(SinkMongoCommands, ExistingCollectionGetsTheValidatorByCollMod) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.reply_next("create", R"({"ok": 0.0, "errmsg": "Collection market.daily already exists.",
                               "code": 48, "codeName": "NamespaceExists"})");
  rec.clear();
  auto r = c.session->create_table(bars_design());
  ASSERT_TRUE(r) << r.error().message;
  const auto cmds = rec.commands();
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].name, "create");
  ASSERT_EQ(cmds[1].name, "collMod");
  EXPECT_EQ(body(cmds[1])["validator"], body(cmds[0])["validator"]);
  EXPECT_EQ(body(cmds[1])["validationLevel"], "strict");
  EXPECT_EQ(cmds[2].name, "createIndexes");
}

TEST(SinkMongoCommands, ConflictingIndexIsInvalidInput) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.reply_next("createIndexes", R"({"ok": 0.0, "code": 86, "codeName": "IndexKeySpecsConflict",
      "errmsg": "An existing index has the same name as the requested index"})");
  auto r = c.session->create_table(bars_design());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("finsync_key"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("(code 86)"), std::string::npos) << r.error().message;
}

TEST(SinkMongoCommands, UpsertIsOneOrderedUpdateWithKeyFiltersAndBsonTypes) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  const RecordBatch b = three_rows();
  auto r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_TRUE(r) << r.error().message;
  const auto cmds = rec.commands();
  ASSERT_EQ(cmds.size(), 1u);
  ASSERT_EQ(cmds[0].name, "update");
  EXPECT_EQ(cmds[0].documents, 3);
  const json u = body(cmds[0]);
  EXPECT_EQ(u["update"], "daily");
  EXPECT_EQ(u["$db"], "market");
  EXPECT_EQ(u["ordered"], true);
  const std::string day2 = R"({"$date": {"$numberLong": "1704153600000"}})";
  const std::string day3 = R"({"$date": {"$numberLong": "1704240000000"}})";
  EXPECT_EQ(u["updates"], json::parse(R"([
    {"q": {"ts_code": "000001.SZ", "trade_date": )" +
                                      day2 + R"(},
     "u": {"ts_code": "000001.SZ", "trade_date": )" +
                                      day2 + R"(,
           "close": {"$numberDouble": "10.5"}, "vol": {"$numberLong": "1200"},
           "ts": {"$date": {"$numberLong": "1704186000000"}}, "halted": false},
     "upsert": true, "multi": false},
    {"q": {"ts_code": "000002.SZ", "trade_date": )" +
                                      day2 + R"(},
     "u": {"ts_code": "000002.SZ", "trade_date": )" +
                                      day2 + R"(,
           "close": null, "vol": {"$numberLong": "0"},
           "ts": {"$date": {"$numberLong": "1704186000123"}}, "halted": true},
     "upsert": true, "multi": false},
    {"q": {"ts_code": "600000.SH", "trade_date": )" +
                                      day3 + R"(},
     "u": {"ts_code": "600000.SH", "trade_date": )" +
                                      day3 + R"(,
           "close": {"$numberDouble": "7.25"}, "vol": {"$numberLong": "-5"},
           "ts": null, "halted": null},
     "upsert": true, "multi": false}])"));
}

TEST(SinkMongoCommands, EachWriteRowsCallIsOneRoundTripUpToTheServersBatchLimit) {
  MongoRecorder::Options o;
  o.record_documents = false;
  MongoRecorder rec(o);
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  const RecordBatch b = many_rows(25'000);
  // The framework calls write_rows with batch_size rows at a time.
  for (size_t i = 0; i < b.num_rows(); i += 10'000)
    ASSERT_TRUE(c.session->write_rows(bars_design(), b, i, std::min(b.num_rows(), i + 10'000)));
  auto updates = rec.commands("update");
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(updates[0].documents, 10'000);
  EXPECT_EQ(updates[1].documents, 10'000);
  EXPECT_EQ(updates[2].documents, 5'000);
  // One call above the server's maxWriteBatchSize (100,000, from the handshake) is split by
  // libmongoc.
  rec.clear();
  const RecordBatch big = many_rows(150'000);
  ASSERT_TRUE(c.session->write_rows(bars_design(), big, 0, big.num_rows()));
  updates = rec.commands("update");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].documents, 100'000);
  EXPECT_EQ(updates[1].documents, 50'000);
}

TEST(SinkMongoCommands, AppendInsertsUnorderedAndSkipsKeysLandedBefore) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  const RecordBatch b = three_rows();
  // The server says rows 0 and 2 are already there (the unique key index): landed before.
  rec.reply_next("insert", R"({"ok": 1.0, "n": 1, "writeErrors": [
      {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key error collection: market.daily index: finsync_key"},
      {"index": 2, "code": 11000, "errmsg": "E11000 duplicate key error collection: market.daily index: finsync_key"}]})");
  auto r = c.session->write_rows(bars_design(WriteMode::append), b, 0, 3);
  ASSERT_TRUE(r) << r.error().message;
  const auto ins = rec.commands("insert");
  ASSERT_EQ(ins.size(), 1u);
  const json i = body(ins[0]);
  EXPECT_EQ(i["insert"], "daily");
  EXPECT_EQ(i["ordered"], false);
  ASSERT_EQ(i["documents"].size(), 3u);
  // libmongoc gives each inserted document a fresh ObjectId: a re-landed row has another _id,
  // and the unique key index is what refuses it.
  json first = i["documents"][0];
  ASSERT_TRUE(first["_id"].contains("$oid")) << first.dump();
  first.erase("_id");
  EXPECT_EQ(first, json::parse(R"({"ts_code": "000001.SZ",
      "trade_date": {"$date": {"$numberLong": "1704153600000"}}, "close": {"$numberDouble": "10.5"},
      "vol": {"$numberLong": "1200"}, "ts": {"$date": {"$numberLong": "1704186000000"}},
      "halted": false})"));
  EXPECT_TRUE(rec.commands("update").empty());
  // Any other write error is one.
  rec.reply_next("insert", R"({"ok": 1.0, "n": 2, "writeErrors": [
      {"index": 1, "code": 121, "errmsg": "Document failed validation"}]})");
  r = c.session->write_rows(bars_design(WriteMode::append), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("Document failed validation"), std::string::npos)
      << r.error().message;
}

TEST(SinkMongoCommands, ValuesBsonCannotHoldAreRejectedBeforeAnythingIsSent) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  struct Case {
    std::function<void(RecordBatch&)> spoil;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](RecordBatch& b) {
         b = RecordBatch(bars_schema());
         RecordBatch src = three_rows();
         b.append_rows(src, 0, 1);
         b.column(4) = Column(DataType::timestamp);
         b.column(4).append_int(1704186000000001);
       },
       "row 1, column ts: timestamp 2024-01-02T09:00:00.000001Z has a sub-millisecond part"},
      {[](RecordBatch& b) {
         b = RecordBatch(bars_schema());
         RecordBatch src = three_rows();
         b.append_rows(src, 0, 1);
         b.column(0) = Column(DataType::string);
         b.column(0).append_string("bad\xff");
       },
       "row 1, column ts_code: the text is not valid UTF-8"},
      {[](RecordBatch& b) {
         b = RecordBatch(bars_schema());
         RecordBatch src = three_rows();
         b.append_rows(src, 0, 1);
         b.column(1) = Column(DataType::date);
         b.column(1).append_null();
       },
       "row 1, column trade_date: null in a key field"},
  };
  for (const auto& k : cases) {
    RecordBatch b;
    k.spoil(b);
    auto r = c.session->write_rows(bars_design(), b, 0, 1);
    ASSERT_FALSE(r) << k.message;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find(k.message), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(rec.commands().empty());
}

TEST(SinkMongoCommands, FieldNamesMongoCannotFilterOnAreRejected) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  for (const std::string bad : {"_id", "$x", "a.b"}) {
    db::TableDesign t = bars_design();
    t.schema.fields[2].name = bad;
    auto r = c.session->create_table(t);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find("column '" + bad + "' cannot be a MongoDB field"),
              std::string::npos)
        << r.error().message;
  }
}

TEST(SinkMongoCommands, MarkersAreJournaledUpsertsByPlanTaskAndPage) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  ASSERT_TRUE(c.session->create_markers());
  const auto idx = rec.commands("createIndexes");
  ASSERT_EQ(idx.size(), 1u);
  EXPECT_EQ(body(idx[0])["createIndexes"], "_finsync_landed");
  EXPECT_EQ(body(idx[0])["indexes"], json::parse(R"([
      {"key": {"plan": {"$numberInt": "1"}}, "name": "finsync_plan"},
      {"key": {"commit_id": {"$numberInt": "1"}}, "name": "finsync_commit"}])"));
  rec.clear();
  const TimePoint at = TimePoint(std::chrono::milliseconds(1704186000456));
  const std::vector<db::Marker> markers = {{"p1", "t1", "20240101-20240131", 0, 20, "c1", at},
                                           {"p1", "t2", "20240201-20240229", 0, 0, "c1", at}};
  ASSERT_TRUE(c.session->write_markers(markers));
  const auto up = rec.commands("update");
  ASSERT_EQ(up.size(), 1u);
  const json m = body(up[0]);
  EXPECT_EQ(m["update"], "_finsync_landed");
  EXPECT_EQ(m["ordered"], true);
  EXPECT_EQ(m["writeConcern"], json::parse(R"({"j": true})"));
  EXPECT_EQ(m["updates"][0], json::parse(R"({
      "q": {"_id": {"plan": "p1", "task_id": "t1", "page": {"$numberInt": "0"}}},
      "u": {"plan": "p1", "task_id": "t1", "window": "20240101-20240131",
            "page": {"$numberInt": "0"}, "rows": {"$numberLong": "20"}, "commit_id": "c1",
            "landed_at": {"$date": {"$numberLong": "1704186000456"}}},
      "upsert": true, "multi": false})"));
  EXPECT_EQ(m["updates"][1]["q"]["_id"]["task_id"], "t2");
  // Read back: the recorder keeps what upserts wrote to _finsync_landed.
  auto landed = c.session->landed("p1");
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 20}, {"t2", 0}}));
  const auto finds = rec.commands("find");
  ASSERT_EQ(finds.size(), 1u);
  EXPECT_EQ(body(finds[0])["filter"], json::parse(R"({"plan": "p1"})"));
  EXPECT_EQ(body(finds[0])["projection"], json::parse(R"({"_id": {"$numberInt": "0"},
      "task_id": {"$numberInt": "1"}, "rows": {"$numberInt": "1"}})"));
  auto other = c.session->landed("p2");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
  EXPECT_EQ(c.session->committed("c1").value(), true);
  EXPECT_EQ(c.session->committed("c2").value(), false);
}

TEST(SinkMongoCommands, DescribeReadsTheValidatorAndTheKeyIndex) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  auto none = c.session->describe("daily");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->has_value());
  rec.reply_next("listCollections", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.$cmd.listCollections", "firstBatch": [{"name": "daily", "type": "collection",
      "options": {"validator": {"$jsonSchema": {"bsonType": "object", "required": ["ts_code"],
        "properties": {"ts_code": {"bsonType": "string"}, "close": {"bsonType": ["double", "null"]},
                       "vol": {"bsonType": ["long", "null"]}}}}}}]}})");
  rec.reply_next("listIndexes", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.daily", "firstBatch": [
        {"v": 2, "key": {"_id": 1}, "name": "_id_"},
        {"v": 2, "key": {"ts_code": 1, "trade_date": 1}, "name": "finsync_key", "unique": true}]}})");
  auto shape = c.session->describe("daily");
  ASSERT_TRUE(shape) << shape.error().message;
  ASSERT_TRUE(shape->has_value());
  const TableShape& s = **shape;
  ASSERT_EQ(s.columns.size(), 3u);
  EXPECT_EQ(s.columns[0].name, "ts_code");
  EXPECT_EQ(s.columns[0].type, "string");
  EXPECT_FALSE(s.columns[0].nullable);
  EXPECT_EQ(s.columns[1].name, "close");
  EXPECT_EQ(s.columns[1].type, "double");
  EXPECT_TRUE(s.columns[1].nullable);
  EXPECT_EQ(s.columns[2].type, "long");
  EXPECT_EQ(s.key, (std::vector<std::string>{"ts_code", "trade_date"}));
  const auto lc = rec.commands("listCollections");
  ASSERT_EQ(lc.size(), 2u);
  EXPECT_EQ(body(lc[1])["filter"], json::parse(R"({"name": "daily"})"));
}

TEST(SinkMongoCommands, AddColumnExtendsTheValidatorByCollMod) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.reply_next("listCollections", R"({"ok": 1.0, "cursor": {"id": {"$numberLong": "0"},
      "ns": "market.$cmd.listCollections", "firstBatch": [{"name": "daily", "options": {
      "validator": {"$jsonSchema": {"bsonType": "object", "required": ["ts_code"],
        "properties": {"ts_code": {"bsonType": "string"}}}}}}]}})");
  rec.clear();
  auto r = c.session->add_column(bars_design(), Field{"amount", DataType::float64}, "double");
  ASSERT_TRUE(r) << r.error().message;
  const auto mod = rec.commands("collMod");
  ASSERT_EQ(mod.size(), 1u);
  EXPECT_EQ(body(mod[0])["validator"], json::parse(R"({"$jsonSchema": {"bsonType": "object",
      "required": ["ts_code"], "properties": {"ts_code": {"bsonType": "string"},
      "amount": {"bsonType": ["double", "null"]}}}})"));
}

TEST(SinkMongoCommands, ReplaceDeletesAllOrTheTasksScope) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  rec.clear();
  ASSERT_TRUE(c.session->delete_all(bars_design(WriteMode::replace)));
  Scope scope;
  scope.equals = {{"ts_code", "000001.SZ"}};
  scope.time_column = "trade_date";
  scope.first_day = kJan2;
  scope.last_day = kJan2 + 30;
  ASSERT_TRUE(c.session->delete_scope(bars_design(WriteMode::replace), scope));
  const auto del = rec.commands("delete");
  ASSERT_EQ(del.size(), 2u);
  EXPECT_EQ(body(del[0])["deletes"], json::parse(R"([{"q": {}, "limit": {"$numberInt": "0"}}])"));
  EXPECT_EQ(body(del[1])["deletes"], json::parse(R"([{"q": {"ts_code": "000001.SZ",
      "trade_date": {"$gte": {"$date": {"$numberLong": "1704153600000"}},
                     "$lt": {"$date": {"$numberLong": "1706832000000"}}}},
      "limit": {"$numberInt": "0"}}])"));
}

TEST(SinkMongoCommands, ServerAnswersAreClassifiedForTheFramework) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  const RecordBatch b = three_rows();
  rec.reply_next("update", R"({"ok": 0.0, "errmsg": "interrupted at shutdown", "code": 11600,
                               "codeName": "InterruptedAtShutdown"})");
  auto r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient) << r.error().message;
  EXPECT_NE(r.error().message.find("interrupted at shutdown (code 11600)"), std::string::npos)
      << r.error().message;
  rec.reply_next("update", R"({"ok": 0.0, "errmsg": "not authorized on market to execute command",
                               "code": 13, "codeName": "Unauthorized"})");
  r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::auth) << r.error().message;
  rec.reply_next("update", R"({"ok": 1.0, "n": 2, "nModified": 0, "writeErrors": [
      {"index": 2, "code": 121, "errmsg": "Document failed validation"}]})");
  r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input) << r.error().message;
  // A connection that dies mid-request: transient (the framework reconnects and re-lands).
  rec.drop_next("update");
  r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient) << r.error().message;
}

TEST(SinkMongoCommands, ServerRestartBreaksTheSessionAndANewOneWorks) {
  MongoRecorder rec;
  auto c = connect(rec);
  ASSERT_TRUE(c.session);
  const RecordBatch b = three_rows();
  ASSERT_TRUE(c.session->write_rows(bars_design(), b, 0, 3));
  rec.restart();
  auto r = c.session->write_rows(bars_design(), b, 0, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient) << r.error().message;
  auto again = c.driver->connect();
  ASSERT_TRUE(again) << again.error().message;
  rec.clear();
  ASSERT_TRUE((*again)->write_rows(bars_design(), b, 0, 3));
  EXPECT_EQ(rec.commands("update").size(), 1u);
}

TEST(SinkMongoCommands, WrongPasswordIsAuthNamingTheUserNotThePassword) {
  MongoRecorder rec;
  SinkSpec s = spec_for(rec);
  s.dsn = "mongodb://trader@127.0.0.1:" + std::to_string(rec.port()) + "/market";
  s.password = "pw-never-printed-42";
  auto d = make_driver(s);
  ASSERT_TRUE(d) << d.error().message;
  auto sess = (*d)->connect();
  ASSERT_FALSE(sess);
  EXPECT_EQ(sess.error().kind, ErrorKind::auth);
  EXPECT_NE(sess.error().message.find("authentication failed for user 'trader'"), std::string::npos)
      << sess.error().message;
  EXPECT_EQ(sess.error().message.find("pw-never-printed-42"), std::string::npos);
  // The driver did try the password: SCRAM's first message names the user.
  EXPECT_FALSE(rec.commands("saslStart").empty());
}

TEST(SinkMongoCommands, NoServerIsUnreachable) {
  uint16_t port = 0;
  {
    MongoRecorder gone;
    port = gone.port();
  }
  SinkSpec s;
  s.kind = "mongodb";
  s.dsn = "mongodb://127.0.0.1:" + std::to_string(port) + "/market?serverSelectionTimeoutMS=500";
  auto d = make_driver(s);
  ASSERT_TRUE(d);
  auto sess = (*d)->connect();
  ASSERT_FALSE(sess);
  EXPECT_EQ(sess.error().kind, ErrorKind::unreachable);
  EXPECT_NE(sess.error().message.find("cannot reach the server"), std::string::npos)
      << sess.error().message;
  EXPECT_NE(sess.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << sess.error().message;
}

TEST(SinkMongoCommands, AnUnexpandedDsnIsParsedAtConnect) {
  // `finsync validate` builds sinks without the environment: ${VAR}s stay as written.
  SinkSpec s;
  s.kind = "mongodb";
  s.dsn = "mongodb://127.0.0.1:${PORT}/market";
  auto d = make_driver(s);
  ASSERT_TRUE(d) << d.error().message;
  auto sess = (*d)->connect();
  ASSERT_FALSE(sess);
  EXPECT_EQ(sess.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(sess.error().message.find("not a MongoDB connection string"), std::string::npos)
      << sess.error().message;
}

TEST(SinkMongoCommands, DsnProblemsAreInvalidInputWithTheSecretMasked) {
  auto msg = [](const std::string& dsn, const std::string& password = "") {
    SinkSpec s;
    s.kind = "mongodb";
    s.dsn = dsn;
    s.password = password;
    auto d = make_driver(s);
    EXPECT_FALSE(d) << dsn;
    if (d) return std::string();
    EXPECT_EQ(d.error().kind, ErrorKind::invalid_input);
    return d.error().message;
  };
  EXPECT_NE(msg("").find("a mongodb sink needs a dsn"), std::string::npos);
  EXPECT_NE(msg("postgresql://h/db").find("not a MongoDB connection string"), std::string::npos);
  EXPECT_NE(msg("mongodb://127.0.0.1:27017").find("the dsn names no database"), std::string::npos);
  EXPECT_NE(msg("mongodb://127.0.0.1/db", "pw").find("a password needs a user"), std::string::npos);
  const std::string w0 = msg("mongodb://u:hunter2secret@127.0.0.1/db?w=0");
  EXPECT_NE(w0.find("w=0"), std::string::npos) << w0;
  EXPECT_EQ(w0.find("hunter2secret"), std::string::npos) << w0;
}

}  // namespace
}  // namespace finsync::sink::mongodb
