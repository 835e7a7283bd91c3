// The mongodb sink against a real MongoDB server, when FINSYNC_TEST_MONGO_URI names one (e.g.
// mongodb://user:pw@127.0.0.1:27017/finsync_test?authSource=admin); otherwise every test here
// is skipped, and ctest reports it as skipped, never passed (Debian 12 ships no MongoDB server).
//
// What it checks, reading back with plain libmongoc (not the sink's code): documents field by
// field with their BSON types; an upsert of a corrected row replaces it and a re-landing adds
// nothing; append re-landing adds nothing (the unique key index refuses the duplicates); replace
// empties the collection once; the unique index and the $jsonSchema validator exist and the
// server enforces the validator; markers are read back by a new sink; and a wrong password is an
// auth error naming the user and host, not the password. Each test works in collections of its
// own and drops them, with the plan's markers, at the end.
#include <gtest/gtest.h>
#include <mongoc/mongoc.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "mongo_test_support.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/mongodb/mongo_sink.hpp"
#include "sink/registry.hpp"

namespace finsync::sink::mongodb {
namespace {

using namespace test;

std::string live_uri() {
  const char* u = std::getenv("FINSYNC_TEST_MONGO_URI");
  return u != nullptr ? u : "";
}

#define REQUIRE_LIVE_SERVER()                                                                \
  if (live_uri().empty())                                                                    \
  GTEST_SKIP() << "FINSYNC_TEST_MONGO_URI is unset: no MongoDB server to test against (the " \
                  "recorder tests in sink_mongo_test.cpp and sink_mongo_commands_test.cpp "  \
                  "cover the commands)"

// A client of the test's own, for reading back and cleaning up.
class Reader {
 public:
  Reader() {
    mongoc_init();
    bson_error_t err;
    uri_ = mongoc_uri_new_with_error(live_uri().c_str(), &err);
    EXPECT_NE(uri_, nullptr) << err.message;
    client_ = mongoc_client_new_from_uri(uri_);
    db_ = mongoc_uri_get_database(uri_);
  }
  ~Reader() {
    for (const auto& c : drop_) {
      mongoc_collection_t* coll = mongoc_client_get_collection(client_, db_.c_str(), c.c_str());
      mongoc_collection_drop(coll, nullptr);
      mongoc_collection_destroy(coll);
    }
    mongoc_collection_t* m = mongoc_client_get_collection(client_, db_.c_str(), "_finsync_landed");
    for (const auto& p : plans_) {
      bson_t* q = BCON_NEW("plan", BCON_UTF8(p.c_str()));
      mongoc_collection_delete_many(m, q, nullptr, nullptr, nullptr);
      bson_destroy(q);
    }
    mongoc_collection_destroy(m);
    mongoc_client_destroy(client_);
    mongoc_uri_destroy(uri_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // A collection and a plan name no other run uses; dropped (markers deleted) at the end.
  std::string fresh(const std::string& what) {
    std::random_device rd;
    std::string name = "finsync_live_" + what + "_" + std::to_string(::getpid()) + "_" +
                       std::to_string(rd() % 100000);
    drop_.push_back(name);
    plans_.push_back(name);
    return name;
  }

  // Every document, `_id` left out, sorted by the key, as canonical extended JSON.
  std::vector<json> documents(const std::string& collection) {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(client_, db_.c_str(), collection.c_str());
    bson_t* filter = bson_new();
    bson_t* opts = BCON_NEW("sort", "{", "ts_code", BCON_INT32(1), "trade_date", BCON_INT32(1), "}",
                            "projection", "{", "_id", BCON_INT32(0), "}");
    mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter, opts, nullptr);
    std::vector<json> out;
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor, &doc)) {
      char* s = bson_as_canonical_extended_json(doc, nullptr);
      out.push_back(json::parse(s));
      bson_free(s);
    }
    bson_error_t err;
    EXPECT_FALSE(mongoc_cursor_error(cursor, &err)) << err.message;
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return out;
  }

  std::vector<json> indexes(const std::string& collection) {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(client_, db_.c_str(), collection.c_str());
    mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
    std::vector<json> out;
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor, &doc)) {
      char* s = bson_as_relaxed_extended_json(doc, nullptr);
      out.push_back(json::parse(s));
      bson_free(s);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    return out;
  }

  // Inserts `doc_json` directly; returns the server's error code (0: inserted).
  uint32_t insert(const std::string& collection, const std::string& doc_json) {
    mongoc_collection_t* coll =
        mongoc_client_get_collection(client_, db_.c_str(), collection.c_str());
    bson_error_t err;
    bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(doc_json.data()),
                                     ssize_t(doc_json.size()), &err);
    const bool ok = mongoc_collection_insert_one(coll, doc, nullptr, nullptr, &err);
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
    return ok ? 0 : err.code;
  }

 private:
  mongoc_uri_t* uri_ = nullptr;
  mongoc_client_t* client_ = nullptr;
  std::string db_;
  std::vector<std::string> drop_, plans_;
};

std::unique_ptr<Sink> live_sink(WriteMode mode = WriteMode::upsert) {
  SinkSpec spec;
  spec.kind = "mongodb";
  spec.dsn = live_uri();
  spec.mode = mode;
  SinkRegistry registry;
  register_mongodb_sink(registry);
  auto s = registry.create(spec, SinkContext{});
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : nullptr;
}

TableSpec table_named(const std::string& name) {
  return TableSpec{
      name, name, bars_schema(), {"ts_code", "trade_date"}, "trade_date", WriteMode::upsert};
}

Checkpoint cp(const std::string& task, int64_t rows) {
  Checkpoint c;
  c.task_id = task;
  c.window = "20240102-20240103";
  c.rows = rows;
  return c;
}

const json& expected_three() {
  static const json e = json::parse(R"([
    {"ts_code": "000001.SZ", "trade_date": {"$date": {"$numberLong": "1704153600000"}},
     "close": {"$numberDouble": "10.5"}, "vol": {"$numberLong": "1200"},
     "ts": {"$date": {"$numberLong": "1704186000000"}}, "halted": false},
    {"ts_code": "000002.SZ", "trade_date": {"$date": {"$numberLong": "1704153600000"}},
     "close": null, "vol": {"$numberLong": "0"},
     "ts": {"$date": {"$numberLong": "1704186000123"}}, "halted": true},
    {"ts_code": "600000.SH", "trade_date": {"$date": {"$numberLong": "1704240000000"}},
     "close": {"$numberDouble": "7.25"}, "vol": {"$numberLong": "-5"}, "ts": null,
     "halted": null}])");
  return e;
}

TEST(SinkMongoLive, UpsertLandsTypedDocumentsAndReplacesACorrectedRow) {
  REQUIRE_LIVE_SERVER();
  Reader reader;
  const std::string name = reader.fresh("upsert");
  auto sink = live_sink();
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->open(table_named(name)));
  ASSERT_TRUE(sink->write(three_rows()));
  ASSERT_TRUE(sink->commit(cp("t1", 3)));
  EXPECT_EQ(json(reader.documents(name)), expected_three());
  // The same rows again (a re-landing after a crash): nothing changes.
  ASSERT_TRUE(sink->write(three_rows()));
  ASSERT_TRUE(sink->commit(cp("t1", 3)));
  EXPECT_EQ(json(reader.documents(name)), expected_three());
  // A corrected bar replaces the old one.
  RecordBatch fix(bars_schema());
  fix.append_rows(three_rows(), 0, 1);
  fix.column(2) = Column(DataType::float64);
  fix.column(2).append_double(10.75);
  ASSERT_TRUE(sink->write(fix));
  ASSERT_TRUE(sink->commit(cp("t2", 1)));
  json want = expected_three();
  want[0]["close"] = json::parse(R"({"$numberDouble": "10.75"})");
  EXPECT_EQ(json(reader.documents(name)), want);
  ASSERT_TRUE(sink->close());
  // A new sink reads the markers back.
  auto again = live_sink();
  ASSERT_TRUE(again->open(table_named(name)));
  auto landed = again->landed_tasks(name);
  ASSERT_TRUE(landed) << landed.error().message;
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 3}, {"t2", 1}}));
  // verify's read: the server runs the aggregate ($toLong of a date needs MongoDB 4.0).
  auto days = again->landed_days(table_named(name), "ts_code");
  ASSERT_TRUE(days) << days.error().message;
  EXPECT_EQ(*days,
            (std::map<std::string, std::vector<int32_t>>{
                {"000001.SZ", {kJan2}}, {"000002.SZ", {kJan2}}, {"600000.SH", {kJan2 + 1}}}));
}

TEST(SinkMongoLive, TheUniqueKeyIndexAndTheValidatorAreEnforcedByTheServer) {
  REQUIRE_LIVE_SERVER();
  Reader reader;
  const std::string name = reader.fresh("index");
  auto sink = live_sink();
  ASSERT_TRUE(sink->open(table_named(name)));
  bool found = false;
  for (const auto& ix : reader.indexes(name)) {
    if (ix["name"] != "finsync_key") continue;
    found = true;
    EXPECT_EQ(ix["unique"], true);
    EXPECT_EQ(ix["key"].dump(), R"({"ts_code":1,"trade_date":1})");
  }
  EXPECT_TRUE(found);
  // A string where the validator says date: DocumentValidationFailure (121).
  EXPECT_EQ(reader.insert(name, R"({"ts_code": "X", "trade_date": "2024-01-02"})"), 121u);
  ASSERT_TRUE(sink->write(three_rows()));
  ASSERT_TRUE(sink->commit(cp("t1", 3)));
  // The same key again: DuplicateKey (11000).
  EXPECT_EQ(reader.insert(name, R"({"ts_code": "000001.SZ",
      "trade_date": {"$date": {"$numberLong": "1704153600000"}}})"),
            11000u);
}

TEST(SinkMongoLive, AppendReLandingAddsNothing) {
  REQUIRE_LIVE_SERVER();
  Reader reader;
  const std::string name = reader.fresh("append");
  auto sink = live_sink(WriteMode::append);
  ASSERT_TRUE(sink->open(table_named(name)));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sink->write(three_rows()));
    auto r = sink->commit(cp("t1", 3));
    ASSERT_TRUE(r) << r.error().message;
  }
  EXPECT_EQ(json(reader.documents(name)), expected_three());
}

TEST(SinkMongoLive, ReplaceEmptiesTheCollectionOnce) {
  REQUIRE_LIVE_SERVER();
  Reader reader;
  const std::string name = reader.fresh("replace");
  {
    auto sink = live_sink();
    ASSERT_TRUE(sink->open(table_named(name)));
    ASSERT_TRUE(sink->write(three_rows()));
    ASSERT_TRUE(sink->commit(cp("t1", 3)));
  }
  auto sink = live_sink(WriteMode::replace);
  TableSpec t = table_named(name);
  t.plan = reader.fresh("replace_plan");
  ASSERT_TRUE(sink->open(t));
  RecordBatch one(bars_schema());
  one.append_rows(three_rows(), 2, 3);
  ASSERT_TRUE(sink->write(one));
  ASSERT_TRUE(sink->commit(cp("r1", 1)));
  ASSERT_TRUE(sink->write(one));
  ASSERT_TRUE(sink->commit(cp("r2", 1)));
  EXPECT_EQ(json(reader.documents(name)), json::array({expected_three()[2]}));
}

TEST(SinkMongoLive, WrongPasswordIsAnAuthErrorWithoutThePassword) {
  REQUIRE_LIVE_SERVER();
  bson_error_t err;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(live_uri().c_str(), &err);
  ASSERT_NE(uri, nullptr);
  const char* user = mongoc_uri_get_username(uri);
  if (user == nullptr) {
    mongoc_uri_destroy(uri);
    GTEST_SKIP() << "FINSYNC_TEST_MONGO_URI has no user: the server does not check passwords";
  }
  const std::string who = user;
  mongoc_uri_set_password(uri, "definitely-wrong-pw-77");
  char* wrong =
      mongoc_uri_get_string(uri) != nullptr ? bson_strdup(mongoc_uri_get_string(uri)) : nullptr;
  mongoc_uri_destroy(uri);
  ASSERT_NE(wrong, nullptr);
  SinkSpec spec;
  spec.kind = "mongodb";
  spec.dsn = wrong;
  bson_free(wrong);
  SinkRegistry registry;
  register_mongodb_sink(registry);
  auto s = registry.create(spec, SinkContext{});
  ASSERT_TRUE(s) << s.error().message;
  auto r = (*s)->open(table_named("finsync_live_never_created"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::auth);
  EXPECT_NE(r.error().message.find("authentication failed for user '" + who + "'"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("definitely-wrong-pw-77"), std::string::npos);
}

}  // namespace
}  // namespace finsync::sink::mongodb
