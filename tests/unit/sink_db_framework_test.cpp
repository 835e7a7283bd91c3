// The database-sink framework (DbSink) over a fake driver that keeps its table in memory and
// fails on command: batching, retry classification and reconnects, a COMMIT whose answer is
// lost, schema drift text, value limits, replace scopes, the checkpoint writer, spec keys.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/spec_check.hpp"
#include "state/task.hpp"

namespace finsync::sink::db {
namespace {

// What the fake store holds; shared by every session of one driver, like a database server.
struct FakeStore {
  std::optional<TableShape> table;
  std::map<std::string, std::string> rows;  // key text -> row text (upsert) or seq -> row
  std::map<std::string, Marker> markers;    // task_id/page -> marker
  int64_t appended = 0;
  std::vector<std::string> log;       // every call, in order
  std::map<std::string, Error> fail;  // "write_rows#2" -> the error that call returns
  std::map<std::string, int> calls;
  bool commit_lands_then_fails = false;  // COMMIT applies, then the answer is "lost"
  int connects = 0;
  int connect_failures = 0;  // the next N connects fail (unreachable)
};

std::string row_text(const RecordBatch& b, size_t r) {
  std::string out;
  for (size_t c = 0; c < b.num_columns(); ++c) {
    if (c) out += '|';
    const Column& col = b.column(c);
    if (!col.valid(r)) {
      out += "NULL";
      continue;
    }
    switch (col.type()) {
      case DataType::float64:
        out += fmt::format("{}", col.double_at(r));
        break;
      case DataType::string:
        out += col.string_at(r);
        break;
      case DataType::date:
        out += dates::iso(int32_t(col.int_at(r)));
        break;
      default:
        out += std::to_string(col.int_at(r));
    }
  }
  return out;
}

class FakeSession final : public Session {
 public:
  explicit FakeSession(FakeStore& s) : s_(s) {}

  Result<void> step(const std::string& name) {
    const std::string key = fmt::format("{}#{}", name, ++s_.calls[name]);
    s_.log.push_back(name);
    auto it = s_.fail.find(key);
    if (it != s_.fail.end()) return fail(it->second);
    return {};
  }

  Result<std::string> server_version() override { return std::string("Fake 1.0"); }
  Result<std::optional<TableShape>> describe(const std::string&) override { return s_.table; }
  Result<void> create_table(const TableDesign& t) override {
    if (auto r = step("create_table"); !r) return r;
    TableShape shape;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      const bool key =
          std::find(t.key.begin(), t.key.end(), t.schema.fields[i].name) != t.key.end();
      shape.columns.push_back({t.schema.fields[i].name, t.types[i], !key});
    }
    if (t.unique_key) shape.key = t.key;
    s_.table = shape;
    return {};
  }
  Result<void> add_column(const TableDesign&, const Field& f, const std::string& type) override {
    if (auto r = step("add_column"); !r) return r;
    s_.table->columns.push_back({f.name, type, true});
    return {};
  }
  Result<void> create_markers() override { return {}; }
  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    for (const auto& [_, m] : s_.markers)
      if (m.plan == plan) out[m.task_id] += m.rows;
    return out;
  }
  Result<bool> committed(const std::string& id) override {
    if (auto r = step("committed"); !r) return fail(r.error());
    for (const auto& [_, m] : s_.markers)
      if (m.commit_id == id) return true;
    return false;
  }
  Result<void> begin() override {
    if (auto r = step("begin"); !r) return r;
    rows_ = s_.rows;
    markers_ = s_.markers;
    appended_ = s_.appended;
    return {};
  }
  Result<void> commit() override {
    if (s_.commit_lands_then_fails) {
      s_.commit_lands_then_fails = false;
      apply();
      s_.log.push_back("commit(lost)");
      return fail(ErrorKind::transient, "server closed the connection unexpectedly");
    }
    if (auto r = step("commit"); !r) return r;
    apply();
    return {};
  }
  void rollback() override { s_.log.push_back("rollback"); }
  Result<void> delete_all(const TableDesign&) override {
    if (auto r = step("delete_all"); !r) return r;
    rows_.clear();
    return {};
  }
  Result<void> delete_scope(const TableDesign&, const Scope& sc) override {
    if (auto r = step("delete_scope"); !r) return r;
    s_.log.back() += fmt::format("({}={} {}..{})", sc.equals.at(0).first, sc.equals.at(0).second,
                                 dates::iso(sc.first_day), dates::iso(sc.last_day));
    // Rows are "sym|date|...": drop the scope's symbol within the days.
    for (auto it = rows_.begin(); it != rows_.end();) {
      const std::string& v = it->second;
      const std::string sym = v.substr(0, v.find('|'));
      const std::string day = v.substr(v.find('|') + 1, 10);
      if (sym == sc.equals[0].second && day >= dates::iso(sc.first_day) &&
          day <= dates::iso(sc.last_day))
        it = rows_.erase(it);
      else
        ++it;
    }
    return {};
  }
  Result<void> write_rows(const TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    if (auto r = step("write_rows"); !r) return r;
    s_.log.back() += fmt::format("({})", end - begin);
    for (size_t r = begin; r < end; ++r) {
      std::string text = row_text(b, r);
      if (t.unique_key) {
        rows_[text.substr(0, text.find('|', text.find('|') + 1))] = text;  // sym|day
      } else {
        rows_[fmt::format("{:012}", appended_++)] = text;
      }
    }
    return {};
  }
  Result<void> finish_rows(const TableDesign&) override { return step("finish_rows"); }
  Result<void> write_markers(std::span<const Marker> ms) override {
    if (auto r = step("write_markers"); !r) return r;
    for (const auto& m : ms) markers_[m.task_id + "/" + std::to_string(m.page)] = m;
    return {};
  }

 private:
  void apply() {
    s_.rows = rows_;
    s_.markers = markers_;
    s_.appended = appended_;
  }
  FakeStore& s_;
  std::map<std::string, std::string> rows_;
  std::map<std::string, Marker> markers_;
  int64_t appended_ = 0;
};

class FakeDriver final : public Driver {
 public:
  explicit FakeDriver(FakeStore& s) : s_(s) {}
  std::string_view kind() const override { return "fake"; }
  std::string where() const override { return "fake:1/db"; }
  Capabilities capabilities() const override { return {true, true, false}; }
  std::string column_type(DataType t) const override {
    return t == DataType::float64 ? "DOUBLE" : t == DataType::date ? "DATE" : "TEXT";
  }
  ValueLimits limits() const override {
    ValueLimits l;
    l.min_day = 0;  // 1970-01-01
    l.max_day = dates::days_from_civil(2105, 12, 31);
    l.date_range = "1970-01-01..2105-12-31";
    return l;
  }
  int64_t default_batch_size() const override { return 4; }
  Result<std::unique_ptr<Session>> connect() override {
    ++s_.connects;
    s_.log.push_back("connect");
    if (s_.connect_failures > 0) {
      --s_.connect_failures;
      return fail(ErrorKind::unreachable, "connection refused");
    }
    return std::unique_ptr<Session>(std::make_unique<FakeSession>(s_));
  }

 private:
  FakeStore& s_;
};

Schema bars_schema() {
  return Schema{{{"sym", DataType::string}, {"day", DataType::date}, {"close", DataType::float64}}};
}

TableSpec bars_table(WriteMode mode = WriteMode::upsert) {
  return TableSpec{"plan#1", "bars", bars_schema(), {"sym", "day"}, "day", mode};
}

// n rows of one symbol from 2024-01-01, close = base + i.
RecordBatch bars(const std::string& sym, int n, double base = 10, int first_day = 0) {
  RecordBatch b(bars_schema());
  const int32_t d0 = dates::days_from_civil(2024, 1, 1) + first_day;
  for (int i = 0; i < n; ++i) {
    b.column(0).append_string(sym);
    b.column(1).append_int(d0 + i);
    b.column(2).append_double(base + i);
  }
  return b;
}

Checkpoint cp(const std::string& task, int64_t rows, int* persisted = nullptr) {
  Checkpoint c;
  c.task_id = task;
  c.window = "20240101-20240131";
  c.rows = rows;
  if (persisted)
    c.persist = [persisted]() -> Result<void> {
      ++*persisted;
      return {};
    };
  return c;
}

struct Fixture {
  FakeStore store;
  std::unique_ptr<DbSink> sink;
  std::vector<int64_t> waits;

  explicit Fixture(SinkSpec spec = {}) {
    spec.kind = "fake";
    auto s = make_db_sink(std::make_unique<FakeDriver>(store), spec);
    EXPECT_TRUE(s) << s.error().message;
    sink = std::move(*s);
    sink->set_sleep([this](std::chrono::milliseconds d) { waits.push_back(d.count()); });
  }
  std::vector<std::string> calls_since(size_t from) const {
    return std::vector<std::string>(store.log.begin() + long(from), store.log.end());
  }
};

TEST(SinkDbFramework, CreatesTheTableWithTheKeyAndWritesInBatchSizePieces) {
  SinkSpec spec;
  spec.batch_size = 4;
  Fixture f(spec);
  ASSERT_TRUE(f.sink->open(bars_table()));
  ASSERT_TRUE(f.store.table.has_value());
  EXPECT_EQ(describe(f.store.table->columns),
            "(sym TEXT NOT NULL, day DATE NOT NULL, close DOUBLE)");
  EXPECT_EQ(f.store.table->key, (std::vector<std::string>{"sym", "day"}));
  const size_t mark = f.store.log.size();
  int persisted = 0;
  ASSERT_TRUE(f.sink->write(bars("A", 10)));
  ASSERT_TRUE(f.sink->write(bars("B", 3)));
  EXPECT_TRUE(f.calls_since(mark).empty()) << "write() sends nothing";
  Checkpoint cps[] = {cp("t/A", 10, &persisted), cp("t/B", 3, &persisted)};
  ASSERT_TRUE(f.sink->commit(std::span<const Checkpoint>(cps)));
  EXPECT_EQ(f.calls_since(mark),
            (std::vector<std::string>{"begin", "write_rows(4)", "write_rows(4)", "write_rows(2)",
                                      "write_rows(3)", "finish_rows", "write_markers", "commit"}));
  EXPECT_EQ(persisted, 2);
  EXPECT_EQ(f.store.rows.size(), 13u);
  auto landed = f.sink->landed_tasks("plan#1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t/A", 10}, {"t/B", 3}}));
  auto stats = f.sink->close();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->commits, 1);
  EXPECT_EQ(stats->reconnects, 0);
}

TEST(SinkDbFramework, TransientFailureReconnectsAndRerunsTheWholeLanding) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table()));
  f.store.fail["write_rows#2"] = Error{ErrorKind::transient, "connection lost", std::nullopt};
  int persisted = 0;
  ASSERT_TRUE(f.sink->write(bars("A", 6)));
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(cp("t/A", 6, &persisted)));
  EXPECT_EQ(f.calls_since(mark),
            (std::vector<std::string>{"begin", "write_rows(4)", "write_rows", "rollback", "connect",
                                      "committed", "begin", "write_rows(4)", "write_rows(2)",
                                      "finish_rows", "write_markers", "commit"}));
  EXPECT_EQ(f.store.rows.size(), 6u);
  EXPECT_EQ(persisted, 1);
  EXPECT_EQ(f.waits.size(), 1u);
  EXPECT_GE(f.waits[0], 50);
  EXPECT_LT(f.waits[0], 100);
  auto stats = f.sink->close();
  EXPECT_EQ(stats->reconnects, 1);
  EXPECT_EQ(stats->retries, 1);
  EXPECT_EQ(stats->commits, 1);
}

TEST(SinkDbFramework, ACommitWhoseAnswerWasLostIsNotLandedTwice) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table(WriteMode::append)));
  f.store.commit_lands_then_fails = true;
  int persisted = 0;
  ASSERT_TRUE(f.sink->write(bars("A", 3)));
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(cp("t/A", 3, &persisted)));
  EXPECT_EQ(f.calls_since(mark),
            (std::vector<std::string>{"begin", "write_rows(3)", "finish_rows", "write_markers",
                                      "commit(lost)", "rollback", "connect", "committed"}));
  EXPECT_EQ(f.store.rows.size(), 3u) << "append mode: a second landing would duplicate";
  EXPECT_EQ(persisted, 1);
  EXPECT_EQ(f.sink->stats().retries, 0);
}

TEST(SinkDbFramework, RefusedConnectionsDuringARunAreWaitedForUpToMaxRetries) {
  SinkSpec spec;
  spec.options["max_retries"] = "3";
  Fixture f(spec);
  ASSERT_TRUE(f.sink->open(bars_table()));
  ASSERT_TRUE(f.sink->write(bars("A", 2)));
  f.store.fail["begin#1"] = Error{ErrorKind::transient, "terminating connection", std::nullopt};
  f.store.connect_failures = 2;  // the server restarts: two refused connects, then up
  ASSERT_TRUE(f.sink->commit(cp("t/A", 2)));
  EXPECT_EQ(f.store.rows.size(), 2u);
  EXPECT_EQ(f.waits.size(), 3u);  // after the failed BEGIN and after each refused connect
  EXPECT_EQ(f.sink->stats().reconnects, 1);

  f.store.fail["begin#3"] = Error{ErrorKind::transient, "terminating connection", std::nullopt};
  f.store.connect_failures = 10;
  ASSERT_TRUE(f.sink->write(bars("B", 2)));
  auto r = f.sink->commit(cp("t/B", 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unreachable);
  EXPECT_EQ(r.error().message,
            "fake sink fake:1/db table bars: landing: connection refused (gave up after 3 "
            "retries)");
  EXPECT_EQ(f.store.rows.size(), 2u);
}

// ClickHouse's HTTP session connects per request: a server that went down between two
// statements of a landing refuses the next one inside the session.
TEST(SinkDbFramework, AConnectionRefusedInsideALandingIsARestartWaitedFor) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table()));
  f.store.fail["write_markers#1"] =
      Error{ErrorKind::unreachable, "Couldn't connect to server", std::nullopt};
  ASSERT_TRUE(f.sink->write(bars("A", 3)));
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(cp("t/A", 3)));
  EXPECT_EQ(f.calls_since(mark),
            (std::vector<std::string>{"begin", "write_rows(3)", "finish_rows", "write_markers",
                                      "rollback", "connect", "committed", "begin", "write_rows(3)",
                                      "finish_rows", "write_markers", "commit"}));
  EXPECT_EQ(f.store.rows.size(), 3u);
  EXPECT_EQ(f.store.markers.size(), 1u);
  EXPECT_EQ(f.sink->stats().reconnects, 1);
  EXPECT_EQ(f.sink->stats().retries, 1);
}

TEST(SinkDbFramework, NoServerAtTheFirstConnectFailsAtOnce) {
  Fixture f;
  f.store.connect_failures = 1;
  auto r = f.sink->open(bars_table());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unreachable);
  EXPECT_EQ(r.error().message, "fake sink fake:1/db table bars: open: connection refused");
  EXPECT_TRUE(f.waits.empty());
}

TEST(SinkDbFramework, PermanentAndInputErrorsAreNotRetriedAndDropTheRows) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table()));
  f.store.fail["write_rows#1"] = Error{ErrorKind::invalid_input, "value too long", std::nullopt};
  int persisted = 0;
  ASSERT_TRUE(f.sink->write(bars("A", 2)));
  auto r = f.sink->commit(cp("t/A", 2, &persisted));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r.error().message, "fake sink fake:1/db table bars: landing: value too long");
  EXPECT_EQ(f.store.connects, 1);
  EXPECT_EQ(persisted, 0);
  // The failed landing's rows are gone: the next commit lands only its own.
  ASSERT_TRUE(f.sink->write(bars("B", 1)));
  ASSERT_TRUE(f.sink->commit(cp("t/B", 1)));
  EXPECT_EQ(f.store.rows.size(), 1u);
  EXPECT_FALSE(is_retryable(Error{ErrorKind::permanent, "", std::nullopt}));
  EXPECT_FALSE(is_retryable(Error{ErrorKind::auth, "", std::nullopt}));
  EXPECT_TRUE(is_retryable(Error{ErrorKind::transient, "", std::nullopt}));
}

TEST(SinkDbFramework, SchemaDriftFailNamesEveryDifference) {
  Fixture f;
  f.store.table = TableShape{
      {{"sym", "TEXT", false}, {"day", "TEXT", false}, {"open", "DOUBLE", true}}, {"sym"}};
  auto r = f.sink->open(bars_table());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r.error().message,
            "fake sink fake:1/db table bars: open: table bars does not match the plan's schema "
            "(schema_drift: fail): missing column close DOUBLE; extra column open DOUBLE (not in "
            "the plan's schema); column day: expected DATE NOT NULL, found TEXT NOT NULL; primary "
            "key: expected (sym, day), found (sym); expected (sym TEXT NOT NULL, day DATE NOT "
            "NULL, close DOUBLE), found (sym TEXT NOT NULL, day TEXT NOT NULL, open DOUBLE)");
  auto check = f.sink->check(bars_table());
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->table_exists);
  EXPECT_EQ(check->server, "Fake 1.0");
  EXPECT_EQ(check->differences.size(), 4u);
}

TEST(SinkDbFramework, SchemaDriftEvolveAddsNullableColumnsOnly) {
  SinkSpec spec;
  spec.schema_drift = SchemaDrift::evolve;
  Fixture f(spec);
  f.store.table = TableShape{
      {{"sym", "TEXT", false}, {"day", "DATE", false}, {"note", "TEXT", true}}, {"sym", "day"}};
  auto check = f.sink->check(bars_table());
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->differences.empty());
  EXPECT_EQ(check->notes.back(), "schema_drift: evolve adds column close DOUBLE");
  ASSERT_TRUE(f.sink->open(bars_table()));
  EXPECT_EQ(describe(f.store.table->columns),
            "(sym TEXT NOT NULL, day DATE NOT NULL, note TEXT, close DOUBLE)");
  EXPECT_EQ(f.sink->stats().columns_added, 1);

  Fixture g(spec);
  g.store.table = TableShape{
      {{"sym", "TEXT", false}, {"day", "DATE", false}, {"close", "TEXT", true}}, {"sym", "day"}};
  auto r = g.sink->open(bars_table());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("(schema_drift: evolve): column close: expected DOUBLE, found "
                                   "TEXT; expected"),
            std::string::npos)
      << r.error().message;
}

TEST(SinkDbFramework, ValuesTheStoreCannotHoldAreRejectedNotClamped) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table()));
  RecordBatch b = bars("A", 2, 10, -1);  // 2023-12-31, 2024-01-01
  b.column(1).append_int(-1);            // 1969-12-31
  b.column(0).append_string("A");
  b.column(2).append_double(1);
  auto r = f.sink->write(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r.error().message,
            "fake sink fake:1/db table bars: row 3, column day: date 1969-12-31 is outside what "
            "a fake date holds (1970-01-01..2105-12-31); nothing of this batch was written");
  EXPECT_FALSE(f.sink->commit(cp("t/A", 3))) << "a refused write poisons the commit";
  ASSERT_TRUE(f.sink->rollback());

  RecordBatch nan = bars("A", 1);
  nan.column(2) = Column(DataType::float64);
  nan.column(2).append_double(std::nan(""));
  r = f.sink->write(nan);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "fake sink fake:1/db table bars: row 1, column close: nan cannot be stored in a fake "
            "float column; nothing of this batch was written");
  ASSERT_TRUE(f.sink->rollback());

  RecordBatch null_key(bars_schema());
  null_key.column(0).append_null();
  null_key.column(1).append_int(20000);
  null_key.column(2).append_double(1);
  r = f.sink->write(null_key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "fake sink fake:1/db table bars: row 1, column sym: NULL in a primary key column (key "
            "columns are NOT NULL); nothing of this batch was written");
  EXPECT_TRUE(f.store.rows.empty());
}

TEST(SinkDbFramework, ReplaceTableEmptiesOncePerPlanDefinition) {
  Fixture f;
  f.store.table = TableShape{
      {{"sym", "TEXT", false}, {"day", "DATE", false}, {"close", "DOUBLE", true}}, {"sym", "day"}};
  f.store.rows["old"] = "OLD|2000-01-01|1";
  ASSERT_TRUE(f.sink->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(f.sink->write(bars("A", 2)));
  ASSERT_TRUE(f.sink->commit(cp("t/A", 2)));
  ASSERT_TRUE(f.sink->write(bars("B", 2)));
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(cp("t/B", 2)));
  EXPECT_EQ(std::count(f.store.log.begin(), f.store.log.end(), "delete_all"), 1);
  EXPECT_EQ(std::count(f.store.log.begin() + long(mark), f.store.log.end(), "delete_all"), 0);
  EXPECT_EQ(f.store.rows.size(), 4u);
  ASSERT_TRUE(f.sink->close());

  // A resumed run of the same plan definition keeps what the first one landed.
  FakeStore& s = f.store;
  SinkSpec spec;
  spec.kind = "fake";
  auto again = make_db_sink(std::make_unique<FakeDriver>(s), spec);
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE((*again)->write(bars("C", 1)));
  ASSERT_TRUE((*again)->commit(cp("t/C", 1)));
  EXPECT_EQ(std::count(s.log.begin(), s.log.end(), "delete_all"), 1);
  EXPECT_EQ(s.rows.size(), 5u);
}

TEST(SinkDbFramework, ReplaceTableByTwoProcessesKeepsWhatTheOtherLanded) {
  FakeStore store;
  store.table = TableShape{
      {{"sym", "TEXT", false}, {"day", "DATE", false}, {"close", "DOUBLE", true}}, {"sym", "day"}};
  store.rows["old"] = "OLD|2000-01-01|1";
  SinkSpec spec;
  spec.kind = "fake";
  auto a = make_db_sink(std::make_unique<FakeDriver>(store), spec);
  auto b = make_db_sink(std::make_unique<FakeDriver>(store), spec);
  ASSERT_TRUE(a && b);
  // Both open before either has landed anything: each would empty the table at its first commit.
  ASSERT_TRUE((*a)->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE((*b)->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE((*a)->write(bars("A", 2)));
  ASSERT_TRUE((*a)->commit(cp("t/A", 2)));
  ASSERT_TRUE((*b)->write(bars("B", 2)));
  ASSERT_TRUE((*b)->commit(cp("t/B", 2)));
  EXPECT_EQ(std::count(store.log.begin(), store.log.end(), "delete_all"), 1);
  std::vector<std::string> rows;
  for (const auto& [_, v] : store.rows) rows.push_back(v.substr(0, 1));
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"A", "A", "B", "B"}));
}

TEST(SinkDbFramework, ReplacePartitionDeletesEachTasksScopeInItsLanding) {
  SinkSpec spec;
  spec.replace = ReplaceScope::partition;
  Fixture f(spec);
  ASSERT_TRUE(f.sink->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(f.sink->write(bars("A", 5)));  // 2024-01-01 .. 01-05
  ASSERT_TRUE(f.sink->commit(cp("t/A", 5)));
  // The vendor now has 3 bars for that window: the other two must go.
  ASSERT_TRUE(f.sink->write(bars("A", 3, 20)));
  Checkpoint c = cp("t/A", 3);
  c.scope.equals = {{"sym", "A"}};
  c.scope.time_column = "day";
  c.scope.first_day = dates::days_from_civil(2024, 1, 1);
  c.scope.last_day = dates::days_from_civil(2024, 1, 5);
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(c));
  EXPECT_EQ(f.calls_since(mark)[1], "delete_scope(sym=A 2024-01-01..2024-01-05)");
  std::vector<std::string> rows;
  for (const auto& [_, v] : f.store.rows) rows.push_back(v);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows,
            (std::vector<std::string>{"A|2024-01-01|20", "A|2024-01-02|21", "A|2024-01-03|22"}));
}

TEST(SinkDbFramework, ACheckpointWriterCommitsCheckpointsWithTheRows) {
  Fixture f;
  ASSERT_TRUE(f.sink->open(bars_table()));
  std::vector<std::string> written;
  f.sink->set_checkpoint_writer([&](Session&, std::span<const Checkpoint> cps) -> Result<void> {
    f.store.log.push_back("checkpoint_writer");
    for (const auto& c : cps) written.push_back(c.task_id);
    return {};
  });
  int persisted = 0;
  state::Task task;
  task.id = "t/A";
  Checkpoint c = cp("t/A", 1, &persisted);
  c.task = &task;
  ASSERT_TRUE(f.sink->write(bars("A", 1)));
  const size_t mark = f.store.log.size();
  ASSERT_TRUE(f.sink->commit(c));
  EXPECT_EQ(f.calls_since(mark),
            (std::vector<std::string>{"begin", "write_rows(1)", "finish_rows", "write_markers",
                                      "checkpoint_writer", "commit"}));
  EXPECT_EQ(written, std::vector<std::string>{"t/A"});
  EXPECT_EQ(persisted, 0) << "persist() is for checkpoints not written with the rows";
}

TEST(SinkDbFramework, SpecKeysAreCheckedWithWhereTheyWereWritten) {
  SinkSpec spec;
  spec.kind = "postgres";
  spec.options["dns"] = "x";
  spec.where["dns"] = "plan.yaml:9:8: sink.dns";
  auto r = check_keys(spec, {"dsn", "password"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "plan.yaml:9:8: sink.dns: 'dns' is not an option of postgres sinks (did you mean "
            "'dsn'?); expected one of kind, table, mode, dsn, password");
  spec.options.clear();
  spec.where.clear();
  spec.options["max_retries"] = "-1";
  spec.where["max_retries"] = "plan.yaml:10:16: sink.max_retries";
  auto o = db_options(spec);
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message,
            "plan.yaml:10:16: sink.max_retries: value '-1' is not valid: expected an integer >= 0");
}

}  // namespace
}  // namespace finsync::sink::db
