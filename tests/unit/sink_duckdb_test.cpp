// The duckdb sink: modes, landed markers, rollback, checkpoint ordering, schema checks and the
// one-writer-process rule. Landed data is read back through a separate DuckDB instance.
#include <duckdb.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sink/registry.hpp"
#include "sink/staging_sink.hpp"

extern char** environ;

namespace finsync::sink {
namespace {

namespace fs = std::filesystem;

// A spec as a plan's sink block gives it: kind, path, mode, partition_by.
SinkSpec spec_of(std::string kind, std::string path, WriteMode mode,
                 std::vector<std::string> partition_by) {
  SinkSpec s;
  s.kind = std::move(kind);
  s.path = std::move(path);
  s.mode = mode;
  s.partition_by = std::move(partition_by);
  return s;
}

// --- a helper process that holds a DuckDB file (see StoreHeldByAnotherProcess) -------------------
// When the test binary is started with FINSYNC_SINK_TEST_HOLD_STORE set, it opens that store
// before main(), reports "ready" (or "error: ...") in FINSYNC_SINK_TEST_HOLD_READY and sleeps.
int hold_store_if_asked() {
  const char* path = std::getenv("FINSYNC_SINK_TEST_HOLD_STORE");
  const char* ready = std::getenv("FINSYNC_SINK_TEST_HOLD_READY");
  if (!path || !ready) return 0;
  duckdb_database db = nullptr;
  duckdb_config cfg = nullptr;
  duckdb_create_config(&cfg);
  char* err = nullptr;
  bool ok = duckdb_open_ext(path, &db, cfg, &err) == DuckDBSuccess;
  std::string tmp = std::string(ready) + ".tmp";
  {
    std::ofstream f(tmp);
    f << (ok ? std::string("ready") : "error: " + std::string(err ? err : "?"));
  }
  std::rename(tmp.c_str(), ready);
  for (int i = 0; ok && i < 120; ++i) ::sleep(1);  // the parent kills us long before
  ::_exit(0);
}
const int kHolder = hold_store_if_asked();

void stop_holder(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  pid = -1;
}

struct Holder {
  pid_t pid = -1;
  std::string status;  // "ready" or "error: ..."
  Holder() = default;
  Holder(const Holder&) = delete;
  Holder& operator=(const Holder&) = delete;
  Holder(Holder&& o) noexcept : pid(o.pid), status(std::move(o.status)) { o.pid = -1; }
  ~Holder() { stop_holder(pid); }
};

Holder spawn_holder(const std::string& store, const std::string& ready_file) {
  Holder h;
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("FINSYNC_SINK_TEST_HOLD_STORE=" + store);
  env_strings.push_back("FINSYNC_SINK_TEST_HOLD_READY=" + ready_file);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char* argv[] = {exe.data(), nullptr};
  if (posix_spawn(&h.pid, exe.c_str(), nullptr, nullptr, argv, envp.data()) != 0) return h;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(ready_file);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      h.status = ss.str();
      return h;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return h;
}

// --- helpers
// --------------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "finsync_sink_duckdb_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A separate DuckDB instance that attaches a store read-only: what another reader would see.
std::vector<std::string> read_rows(const std::string& store, const std::string& sql) {
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  EXPECT_EQ(duckdb_open(nullptr, &db), DuckDBSuccess);
  duckdb_connect(db, &con);
  std::vector<std::string> out;
  duckdb_result res;
  std::string attach = "ATTACH '" + store + "' AS s (READ_ONLY); USE s";
  if (duckdb_query(con, attach.c_str(), &res) != DuckDBSuccess) {
    ADD_FAILURE() << duckdb_result_error(&res);
  } else {
    duckdb_destroy_result(&res);
    if (duckdb_query(con, sql.c_str(), &res) != DuckDBSuccess) {
      ADD_FAILURE() << sql << ": " << duckdb_result_error(&res);
    } else {
      for (idx_t r = 0; r < duckdb_row_count(&res); ++r) {
        std::string line;
        for (idx_t c = 0; c < duckdb_column_count(&res); ++c) {
          if (c) line += "|";
          if (duckdb_value_is_null(&res, c, r)) {
            line += "NULL";
          } else {
            char* v = duckdb_value_varchar(&res, c, r);
            line += v;
            duckdb_free(v);
          }
        }
        out.push_back(line);
      }
    }
  }
  duckdb_destroy_result(&res);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return out;
}

int days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

Schema bars_schema() {
  return Schema{{{"ts_code", DataType::string},
                 {"trade_date", DataType::date},
                 {"close", DataType::float64}}};
}

struct Bar {
  std::string code;
  int day;
  std::optional<double> close;
};

RecordBatch bars(const std::vector<Bar>& rows) {
  RecordBatch b(bars_schema());
  for (const auto& r : rows) {
    b.column(0).append_string(r.code);
    b.column(1).append_int(r.day);
    if (r.close) {
      b.column(2).append_double(*r.close);
    } else {
      b.column(2).append_null();
    }
  }
  return b;
}

TableSpec bars_table(WriteMode mode = WriteMode::upsert, std::string plan = "p1") {
  TableSpec t;
  t.plan = std::move(plan);
  t.table = "daily";
  t.schema = bars_schema();
  t.primary_key = {"ts_code", "trade_date"};
  t.time_column = "trade_date";
  t.mode = mode;
  return t;
}

Checkpoint cp(std::string task, int page = 0, std::function<Result<void>()> persist = {}) {
  Checkpoint c;
  c.task_id = std::move(task);
  c.window = "20240101-20240131";
  c.page = page;
  c.persist = std::move(persist);
  return c;
}

std::unique_ptr<Sink> make(const std::string& kind, const SinkContext& ctx,
                           const std::string& path = "") {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = kind;
  spec.path = path;
  auto s = reg.create(spec, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

const int D1 = days_from_civil(2024, 1, 2);
const int D2 = days_from_civil(2024, 1, 3);
const int D3 = days_from_civil(2024, 1, 4);

const char* kSelect = "SELECT ts_code, trade_date, close FROM daily ORDER BY ts_code, trade_date";

// --- tests
// -----------------------------------------------------------------------------------------

TEST(SinkDuckdb, UpsertKeepsOneRowPerKeyWithTheLastWrittenValues) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table()));
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"A", D2, 2.0}, {"B", D1, 5.0}})));
  ASSERT_TRUE(s->commit(cp("t1")));
  // An overlapping task, with a re-fetched page inside it: the last written value of a key wins.
  ASSERT_TRUE(s->write(bars({{"A", D2, 20.0}, {"A", D3, 30.0}})));
  ASSERT_TRUE(s->write(bars({{"A", D3, 33.0}, {"B", D1, std::nullopt}})));
  ASSERT_TRUE(s->commit(cp("t2")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"A|2024-01-02|1.0", "A|2024-01-03|20.0", "A|2024-01-04|33.0",
                                      "B|2024-01-02|NULL"}));
}

TEST(SinkDuckdb, AppendKeepsEveryRow) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table(WriteMode::append)));
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"A", D2, 2.0}})));
  ASSERT_TRUE(s->commit(cp("t1")));
  ASSERT_TRUE(s->write(bars({{"A", D2, 20.0}, {"A", D3, 30.0}})));
  ASSERT_TRUE(s->commit(cp("t2")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect + std::string(", close")),
            (std::vector<std::string>{"A|2024-01-02|1.0", "A|2024-01-03|2.0", "A|2024-01-03|20.0",
                                      "A|2024-01-04|30.0"}));
  EXPECT_EQ(read_rows(ctx.staging_path,
                      "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'daily' AND "
                      "constraint_type = 'PRIMARY KEY'"),
            std::vector<std::string>{"0"});
}

TEST(SinkDuckdb, ReplaceEmptiesTheTableOncePerPlanSoAResumedRunKeepsLandedRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
    ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}})));
    ASSERT_TRUE(s->commit(cp("t1")));
    // The process dies here: t1 is landed and checkpointed, t2 is not.
  }
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(s->write(bars({{"B", D1, 2.0}})));
  ASSERT_TRUE(s->commit(cp("t2")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"A|2024-01-02|1.0", "B|2024-01-02|2.0"}));
}

TEST(SinkDuckdb, ReplaceKeepsOnlyTheNewRunsRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
    ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"B", D1, 2.0}})));
    ASSERT_TRUE(s->commit(cp("old")));
    ASSERT_TRUE(s->close());
  }
  auto s = make("duckdb", ctx);
  // A new plan definition (landing key): the engine's --replan.
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace, "p1-v2")));
  ASSERT_TRUE(s->write(bars({{"C", D2, 3.0}})));
  ASSERT_TRUE(s->commit(cp("new1")));
  ASSERT_TRUE(s->write(bars({{"C", D3, 4.0}, {"C", D2, 3.5}})));  // later commits add, not replace
  ASSERT_TRUE(s->commit(cp("new2")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"C|2024-01-03|3.5", "C|2024-01-04|4.0"}));
}

// replace: partition. A task owns the rows of its symbol inside its window (Checkpoint::scope).
std::unique_ptr<Sink> make_partition_replacer(const SinkContext& ctx) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec = spec_of("duckdb", "", WriteMode::replace, {});
  spec.replace = ReplaceScope::partition;
  auto s = reg.create(spec, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

Checkpoint scoped(std::string task, std::string symbol, int first_day, int last_day) {
  Checkpoint c = cp(std::move(task));
  c.scope.equals = {{"ts_code", std::move(symbol)}};
  c.scope.time_column = "trade_date";
  c.scope.first_day = first_day;
  c.scope.last_day = last_day;
  return c;
}

TEST(SinkDuckdb, ReplacePartitionSwapsOnlyTheTasksSymbolAndWindow) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  const int D4 = D3 + 1;
  {
    auto s = make_partition_replacer(ctx);
    ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
    ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"A", D2, 2.0}, {"A", D3, 3.0}, {"A", D4, 4.0}})));
    ASSERT_TRUE(s->commit(scoped("a", "A", D1, D4)));
    ASSERT_TRUE(s->write(bars({{"B", D1, 5.0}, {"B", D2, 6.0}})));
    ASSERT_TRUE(s->commit(scoped("b", "B", D1, D4)));
    ASSERT_TRUE(s->close());
  }
  // A second run of the same plan re-fetches A over D2..D3: the vendor no longer has A on D3 and
  // corrected D2. A on D1 and D4 (outside the window) and all of B stay as they were.
  auto s = make_partition_replacer(ctx);
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(s->write(bars({{"A", D2, 20.0}})));
  ASSERT_TRUE(s->commit(scoped("a2", "A", D2, D3)));
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"A|2024-01-02|1.0", "A|2024-01-03|20.0", "A|2024-01-05|4.0",
                                      "B|2024-01-02|5.0", "B|2024-01-03|6.0"}));
  // Two tasks landed by one group commit: each loses its own rows, an empty task included.
  ASSERT_TRUE(s->write(bars({{"A", D1, 10.0}, {"B", D2, 60.0}})));
  std::vector<Checkpoint> group = {scoped("a3", "A", D1, D1), scoped("b2", "B", D1, D2)};
  ASSERT_TRUE(s->commit(std::span<const Checkpoint>(group)));
  ASSERT_TRUE(s->commit(scoped("empty", "A", D4, D4)));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(
      read_rows(ctx.staging_path, kSelect),
      (std::vector<std::string>{"A|2024-01-02|10.0", "A|2024-01-03|20.0", "B|2024-01-03|60.0"}));
  EXPECT_EQ(
      read_rows(ctx.staging_path, "SELECT task_id, \"rows\" FROM _finsync_landed ORDER BY task_id"),
      (std::vector<std::string>{"a|4", "a2|1", "a3|0", "b|2", "b2|0", "empty|0"}));
}

TEST(SinkDuckdb, ReplacePartitionOfAFailedLandingKeepsTheOldRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make_partition_replacer(ctx);
  ASSERT_TRUE(s->open(bars_table(WriteMode::replace)));
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"A", D2, 2.0}})));
  ASSERT_TRUE(s->commit(scoped("a", "A", D1, D2)));
  // The delete and the new rows are one transaction: a row that fails (NULL key) undoes both.
  RecordBatch b(bars_schema());
  b.column(0).append_null();
  b.column(1).append_int(D1);
  b.column(2).append_double(9);
  ASSERT_TRUE(s->write(bars({{"A", D1, 100.0}})));
  ASSERT_TRUE(s->write(b));
  auto r = s->commit(scoped("a", "A", D1, D2));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("NOT NULL"), std::string::npos) << r.error().message;
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"A|2024-01-02|1.0", "A|2024-01-03|2.0"}));
  // Without a time column or a key nothing says which rows a task owns.
  TableSpec unowned = bars_table(WriteMode::replace);
  unowned.table = "unowned";
  unowned.primary_key.clear();
  unowned.time_column.clear();
  auto o = make_partition_replacer(ctx)->open(unowned);
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(o.error().message.find("replace: partition needs a time column or a key"),
            std::string::npos)
      << o.error().message;
}

TEST(SinkDuckdb, ReplacePartitionOverATimestampWindowCoversWholeDays) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  Schema schema{{{"sym", DataType::string}, {"at", DataType::timestamp}, {"px", DataType::int64}}};
  TableSpec t;
  t.plan = "p";
  t.table = "ticks";
  t.schema = schema;
  t.primary_key = {"sym", "at"};
  t.time_column = "at";
  t.mode = WriteMode::replace;
  const int64_t day = 86'400'000'000;
  auto ticks = [&](std::vector<std::pair<int64_t, int64_t>> rows) {
    RecordBatch b(schema);
    for (auto [at, px] : rows) {
      b.column(0).append_string("S");
      b.column(1).append_int(at);
      b.column(2).append_int(px);
    }
    return b;
  };
  auto s = make_partition_replacer(ctx);
  ASSERT_TRUE(s->open(t));
  // The last microsecond before D1, D1's first, D2's last, D3's first.
  ASSERT_TRUE(s->write(
      ticks({{D1 * day - 1, 1}, {D1 * day, 2}, {(D2 + 1) * day - 1, 3}, {(D2 + 1) * day, 4}})));
  Checkpoint all = scoped("all", "S", D1 - 1, D3);
  all.scope.equals = {{"sym", "S"}};
  all.scope.time_column = "at";
  ASSERT_TRUE(s->commit(all));
  Checkpoint mid = all;
  mid.task_id = "mid";
  mid.scope.first_day = D1;
  mid.scope.last_day = D2;
  ASSERT_TRUE(s->commit(mid));  // no rows: D1 and D2 are emptied
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, "SELECT \"at\", px FROM ticks ORDER BY \"at\""),
            (std::vector<std::string>{"2024-01-01 23:59:59.999999|1", "2024-01-04 00:00:00|4"}));
}

TEST(SinkDuckdb, LandedTasksListsMarkersAndRollbackDropsUncommittedRows) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table()));
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}})));
  Checkpoint c1 = cp("t1", 0);
  c1.window = "20240102-20240102";
  ASSERT_TRUE(s->commit(c1));
  ASSERT_TRUE(s->write(bars({{"A", D2, 99.0}, {"Z", D2, 99.0}})));
  ASSERT_TRUE(s->rollback());
  ASSERT_TRUE(s->write(bars({{"B", D3, 3.0}})));
  ASSERT_TRUE(s->commit(cp("t2", 2)));
  ASSERT_TRUE(s->commit(cp("t3", 0)));  // an empty page still lands its marker

  auto landed = s->landed_tasks("p1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 1}, {"t2", 1}, {"t3", 0}}));
  auto other = s->landed_tasks("another-plan");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
  ASSERT_TRUE(s->health());
  ASSERT_TRUE(s->close());

  EXPECT_EQ(read_rows(ctx.staging_path, kSelect),
            (std::vector<std::string>{"A|2024-01-02|1.0", "B|2024-01-04|3.0"}));
  EXPECT_EQ(read_rows(ctx.staging_path,
                      "SELECT plan, task_id, \"window\", page, \"rows\", landed_at IS NOT NULL "
                      "FROM _finsync_landed ORDER BY task_id"),
            (std::vector<std::string>{"p1|t1|20240102-20240102|0|1|true",
                                      "p1|t2|20240101-20240131|2|1|true",
                                      "p1|t3|20240101-20240131|0|0|true"}));
}

TEST(SinkDuckdb, PersistRunsAfterTheDataIsCommittedAndItsFailureKeepsTheLanding) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table()));
  int calls = 0;
  bool landed_when_persisted = false;
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}})));
  auto r = s->commit(cp("t1", 0, [&]() -> Result<void> {
    ++calls;
    auto l = s->landed_tasks("p1");
    landed_when_persisted = l && l->count("t1") == 1;
    return fail(ErrorKind::transient, "state store is locked");
  }));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient);
  EXPECT_NE(r.error().message.find("state store is locked"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(landed_when_persisted);
  auto landed = s->landed_tasks("p1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"t1", 1}}));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect), std::vector<std::string>{"A|2024-01-02|1.0"});
}

TEST(SinkDuckdb, EveryDataTypeRoundTripsWithNulls) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  Schema schema{{{"id", DataType::int64},
                 {"x", DataType::float64},
                 {"s", DataType::string},
                 {"d", DataType::date},
                 {"ts", DataType::timestamp},
                 {"b", DataType::boolean}}};
  TableSpec t;
  t.plan = "p";
  t.table = "typed";
  t.schema = schema;
  t.primary_key = {"id"};
  RecordBatch batch(schema);
  batch.column(0).append_int(-9007199254740993LL);
  batch.column(1).append_double(0.1);
  batch.column(2).append_string("it's \"q\"\n\xC3\xA9");
  batch.column(3).append_int(days_from_civil(1969, 12, 31));
  batch.column(4).append_int(1704164645123456LL);  // 2024-01-02 03:04:05.123456 UTC
  batch.column(5).append_int(1);
  batch.column(0).append_int(2);
  for (size_t c = 1; c < 6; ++c) batch.column(c).append_null();

  auto s = make("duckdb", ctx, "out/typed.duckdb");  // relative to the data dir
  ASSERT_TRUE(s->open(t));
  ASSERT_TRUE(s->write(batch));
  ASSERT_TRUE(s->commit(cp("t")));
  ASSERT_TRUE(s->close());
  const std::string store = dir / "out/typed.duckdb";
  ASSERT_TRUE(fs::exists(store));
  EXPECT_EQ(
      read_rows(store, "SELECT * FROM typed ORDER BY id"),
      (std::vector<std::string>{
          "-9007199254740993|0.1|it's \"q\"\n\xC3\xA9|1969-12-31|2024-01-02 03:04:05.123456|true",
          "2|NULL|NULL|NULL|NULL|NULL"}));
  EXPECT_EQ(read_rows(store,
                      "SELECT column_name || ' ' || data_type FROM duckdb_columns() WHERE "
                      "table_name = 'typed' ORDER BY column_index"),
            (std::vector<std::string>{"id BIGINT", "x DOUBLE", "s VARCHAR", "d DATE",
                                      "ts TIMESTAMP", "b BOOLEAN"}));
}

TEST(SinkDuckdb, DatesAndTimestampsOutsideYears1To9999AreRejectedNotStoredAsInfinity) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  Schema schema{{{"id", DataType::int64}, {"d", DataType::date}, {"ts", DataType::timestamp}}};
  TableSpec t;
  t.plan = "p";
  t.table = "edges";
  t.schema = schema;
  t.primary_key = {"id"};
  auto batch = [&](int64_t day, int64_t micros) {
    RecordBatch b(schema);
    b.column(0).append_int(1);
    b.column(1).append_int(day);
    b.column(2).append_int(micros);
    return b;
  };
  const int64_t first_us = int64_t(days_from_civil(1, 1, 1)) * 86'400'000'000;
  const int64_t last_us = int64_t(days_from_civil(10000, 1, 1)) * 86'400'000'000 - 1;
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(t));
  // The edges themselves land.
  ASSERT_TRUE(s->write(batch(days_from_civil(1, 1, 1), first_us)));
  ASSERT_TRUE(s->commit(cp("low")));
  ASSERT_TRUE(s->write(batch(days_from_civil(9999, 12, 31), last_us)));
  ASSERT_TRUE(s->commit(cp("high")));
  struct Bad {
    int64_t day, micros;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {days_from_civil(0, 12, 31), first_us,
       "row 1, column d: date 0000-12-31 is outside 0001-01-01..9999-12-31"},
      {days_from_civil(10000, 1, 1), first_us,
       "row 1, column d: date 10000-01-01 is outside 0001-01-01..9999-12-31"},
      {int64_t(INT32_MAX), first_us, "row 1, column d: date 2147483647 days is outside"},
      {days_from_civil(2000, 1, 1), first_us - 1,
       "row 1, column ts: timestamp 0000-12-31T23:59:59.999999Z is outside "
       "0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z"},
      {days_from_civil(2000, 1, 1), INT64_MIN,
       "row 1, column ts: timestamp -9223372036854775808 microseconds is outside"},
  };
  for (const auto& b : bad) {
    auto r = s->write(batch(b.day, b.micros));
    ASSERT_FALSE(r) << b.message;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find(b.message), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("nothing of this batch was written"), std::string::npos);
    // The task fails as a whole.
    EXPECT_FALSE(s->commit(cp("bad")));
  }
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, "SELECT id, d, ts FROM edges"),
            std::vector<std::string>{"1|9999-12-31|9999-12-31 23:59:59.999999"});
  EXPECT_EQ(read_rows(ctx.staging_path, "SELECT task_id FROM _finsync_landed ORDER BY task_id"),
            (std::vector<std::string>{"high", "low"}));
}

TEST(SinkDuckdb, SchemaMismatchWithAnExistingTableNamesTheColumns) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->close());
  }
  TableSpec t = bars_table();
  t.schema.fields[2] = Field{"vol", DataType::int64};
  auto s = make("duckdb", ctx);
  auto r = s->open(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  const std::string& m = r.error().message;
  EXPECT_EQ(m, "table 'daily' in " + ctx.staging_path +
                   " does not match the plan's schema (schema_drift: fail): missing column vol "
                   "BIGINT; extra column close DOUBLE (not in the plan's schema); expected "
                   "(ts_code VARCHAR, trade_date DATE, vol BIGINT), found (ts_code VARCHAR, "
                   "trade_date DATE, close DOUBLE); migrate or drop the table, land into another "
                   "one, or set schema_drift: evolve to add new columns");

  // Same columns in another order are the same table.
  TableSpec reordered = bars_table();
  std::swap(reordered.schema.fields[0], reordered.schema.fields[2]);
  auto s2 = make("duckdb", ctx);
  auto r2 = s2->open(reordered);
  EXPECT_TRUE(r2) << r2.error().message;
}

std::unique_ptr<Sink> make_evolving(const SinkContext& ctx, SchemaDrift drift) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = "duckdb";
  spec.schema_drift = drift;
  auto s = reg.create(spec, ctx);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

TEST(SinkDuckdb, SchemaDriftEvolveAddsANewFieldAsANullableColumn) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}, {"B", D1, 2.0}})));
    ASSERT_TRUE(s->commit(cp("t1")));
    ASSERT_TRUE(s->close());
  }
  TableSpec wider = bars_table();
  wider.schema.fields.push_back({"vol", DataType::int64});
  // fail (the default) names the exact difference and changes nothing.
  {
    auto s = make_evolving(ctx, SchemaDrift::fail);
    auto r = s->open(wider);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_EQ(r.error().message,
              "table 'daily' in " + ctx.staging_path +
                  " does not match the plan's schema (schema_drift: fail): missing column vol "
                  "BIGINT; expected (ts_code VARCHAR, trade_date DATE, close DOUBLE, vol BIGINT), "
                  "found (ts_code VARCHAR, trade_date DATE, close DOUBLE); migrate or drop the "
                  "table, land into another one, or set schema_drift: evolve to add new columns");
    auto check = s->check(wider);
    ASSERT_TRUE(check) << check.error().message;
    EXPECT_EQ(check->differences, std::vector<std::string>{"missing column vol BIGINT"});
  }
  {
    auto s = make_evolving(ctx, SchemaDrift::evolve);
    auto check = s->check(wider);
    ASSERT_TRUE(check) << check.error().message;
    EXPECT_TRUE(check->differences.empty());
    EXPECT_EQ(check->notes.back(), "schema_drift: evolve adds column vol BIGINT");
    ASSERT_TRUE(s->open(wider));
    RecordBatch b(wider.schema);
    b.column(0).append_string("A");
    b.column(1).append_int(D2);
    b.column(2).append_double(3.0);
    b.column(3).append_int(700);
    b.column(0).append_string("B");  // an existing key: upsert replaces the row, vol included
    b.column(1).append_int(D1);
    b.column(2).append_double(2.5);
    b.column(3).append_int(800);
    ASSERT_TRUE(s->write(b));
    ASSERT_TRUE(s->commit(cp("t2")));
    auto stats = s->close();
    ASSERT_TRUE(stats) << stats.error().message;
    EXPECT_EQ(stats->columns_added, 1);
  }
  EXPECT_EQ(
      read_rows(ctx.staging_path, "SELECT ts_code, trade_date, close, vol FROM daily ORDER BY ALL"),
      (std::vector<std::string>{"A|2024-01-02|1.0|NULL", "A|2024-01-03|3.0|700",
                                "B|2024-01-02|2.5|800"}));
  EXPECT_EQ(read_rows(ctx.staging_path,
                      "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM "
                      "duckdb_columns() WHERE table_name = 'daily' ORDER BY column_index"),
            (std::vector<std::string>{"ts_code VARCHAR false", "trade_date DATE false",
                                      "close DOUBLE true", "vol BIGINT true"}));
  // Once evolved, the same schema opens without drift.
  auto again = make_evolving(ctx, SchemaDrift::evolve);
  ASSERT_TRUE(again->open(wider));
  EXPECT_EQ(again->close().value().columns_added, 0);
}

TEST(SinkDuckdb, SchemaDriftEvolveStillStopsOnTypeKeyAndNotNullChanges) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table()));
    ASSERT_TRUE(s->close());
  }
  auto opened = [&](const TableSpec& t) {
    auto s = make_evolving(ctx, SchemaDrift::evolve);
    auto r = s->open(t);
    return r ? std::string("ok") : r.error().message;
  };
  TableSpec retyped = bars_table();
  retyped.schema.fields[2].type = DataType::string;
  EXPECT_NE(opened(retyped).find("(schema_drift: evolve): column close: expected VARCHAR, found "
                                 "DOUBLE; expected"),
            std::string::npos)
      << opened(retyped);
  TableSpec rekeyed = bars_table();
  rekeyed.schema.fields.push_back({"exchange", DataType::string});
  rekeyed.primary_key = {"ts_code", "trade_date", "exchange"};
  EXPECT_NE(
      opened(rekeyed).find("missing key column exchange VARCHAR (evolve adds only nullable non-key "
                           "columns); primary key: expected (ts_code, trade_date, exchange), found "
                           "(ts_code, trade_date)"),
      std::string::npos)
      << opened(rekeyed);
  // A column the plan no longer has is fine while it is nullable; its rows get NULL there.
  TableSpec narrower = bars_table();
  narrower.schema.fields.pop_back();
  {
    auto s = make_evolving(ctx, SchemaDrift::evolve);
    ASSERT_TRUE(s->open(narrower));
    RecordBatch b(narrower.schema);
    b.column(0).append_string("N");
    b.column(1).append_int(D1);
    ASSERT_TRUE(s->write(b));
    ASSERT_TRUE(s->commit(cp("n")));
    ASSERT_TRUE(s->close());
  }
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect), std::vector<std::string>{"N|2024-01-02|NULL"});
  // Nothing was added by the refused opens.
  EXPECT_EQ(read_rows(ctx.staging_path,
                      "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'daily'"),
            std::vector<std::string>{"3"});
}

TEST(SinkDuckdb, BatchesAreMatchedByColumnNameAndMismatchesRejected) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table()));
  Schema reordered{{{"close", DataType::float64},
                    {"ts_code", DataType::string},
                    {"trade_date", DataType::date}}};
  RecordBatch b(reordered);
  b.column(0).append_double(7.5);
  b.column(1).append_string("R");
  b.column(2).append_int(D1);
  ASSERT_TRUE(s->write(b));
  Schema wrong{{{"ts_code", DataType::string},
                {"trade_date", DataType::string},
                {"close", DataType::float64}}};
  RecordBatch w(wrong);
  w.column(0).append_string("R");
  w.column(1).append_string("2024-01-02");
  w.column(2).append_double(1);
  auto r = s->write(w);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("trade_date VARCHAR"), std::string::npos) << r.error().message;
  ASSERT_TRUE(s->commit(cp("t")));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect), std::vector<std::string>{"R|2024-01-02|7.5"});
}

TEST(SinkDuckdb, AFailedCommitLandsNothingAndTheSinkRecovers) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  ASSERT_TRUE(s->open(bars_table()));
  RecordBatch b(bars_schema());
  b.column(0).append_null();  // NULL in a primary key column
  b.column(1).append_int(D1);
  b.column(2).append_double(1);
  ASSERT_TRUE(s->write(bars({{"A", D1, 1.0}})));
  ASSERT_TRUE(s->write(b));
  bool persisted = false;
  auto r = s->commit(cp("bad", 0, [&]() -> Result<void> {
    persisted = true;
    return {};
  }));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::permanent);
  EXPECT_NE(r.error().message.find("NOT NULL"), std::string::npos) << r.error().message;
  EXPECT_FALSE(persisted);
  // No rollback() call: the failed commit already dropped its rows, so none leak into the next.
  ASSERT_TRUE(s->write(bars({{"B", D1, 2.0}})));
  ASSERT_TRUE(s->commit(cp("good")));
  auto landed = s->landed_tasks("p1");
  ASSERT_TRUE(landed);
  EXPECT_EQ(*landed, (std::map<std::string, int64_t>{{"good", 1}}));
  ASSERT_TRUE(s->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect), std::vector<std::string>{"B|2024-01-02|2.0"});
}

TEST(SinkDuckdb, RejectsSpecsItCannotHonour) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto s = make("duckdb", ctx);
  TableSpec no_key = bars_table();
  no_key.primary_key.clear();
  auto r = s->open(no_key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(r.error().message.find("upsert needs a primary key"), std::string::npos);
  EXPECT_EQ(s->write(bars({{"A", D1, 1.0}})).error().kind, ErrorKind::invalid_input);

  SinkRegistry reg;
  register_builtin_sinks(reg);
  EXPECT_EQ(reg.kinds(), (std::vector<std::string>{"clickhouse", "csv", "dolphindb", "duckdb",
                                                   "excel", "mariadb", "mongodb", "mysql",
                                                   "parquet", "postgres", "sqlite"}));
  auto none = reg.create(spec_of("duckdb", "", WriteMode::upsert, {}), SinkContext{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::invalid_input);
  auto partitioned = reg.create(spec_of("duckdb", "", WriteMode::upsert, {"year"}), ctx).value();
  EXPECT_EQ(partitioned->open(bars_table()).error().kind, ErrorKind::invalid_input);

  // The sink block's mode overrides the table's: append needs no key.
  auto appender = reg.create(spec_of("duckdb", "", WriteMode::append, {}), ctx).value();
  EXPECT_TRUE(appender->open(no_key));
  ASSERT_TRUE(appender->close());
  // The append-mode table has no primary key, so it cannot be upserted into.
  auto upserter = make("duckdb", ctx);
  auto pk = upserter->open(bars_table());
  ASSERT_FALSE(pk);
  EXPECT_EQ(pk.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(pk.error().message.find("primary key: expected (ts_code, trade_date), found ()"),
            std::string::npos)
      << pk.error().message;
}

TEST(SinkDuckdb, StoreHeldByAnotherProcessIsReportedAsInUse) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  {
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(bars_table()));
    // While this process holds the store, another process cannot open it...
    Holder blocked = spawn_holder(ctx.staging_path, dir / "ready1");
    stop_holder(blocked.pid);
    EXPECT_EQ(blocked.status.rfind("error: ", 0), 0u) << blocked.status;
    EXPECT_NE(blocked.status.find("lock"), std::string::npos) << blocked.status;
    ASSERT_TRUE(s->close());
  }
  // ...and after close() it can: the lock is released.
  Holder h = spawn_holder(ctx.staging_path, dir / "ready2");
  ASSERT_EQ(h.status, "ready");
  auto s = make("duckdb", ctx);
  auto r = s->open(bars_table());
  std::string pid = std::to_string(h.pid);
  stop_holder(h.pid);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient);
  EXPECT_NE(r.error().message.find("is in use by another finsync process (pid " + pid),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find(ctx.staging_path), std::string::npos) << r.error().message;
  // Once the holder is gone the same sink object opens fine.
  auto again = s->open(bars_table());
  EXPECT_TRUE(again) << again.error().message;
  EXPECT_TRUE(s->close());
}

TEST(SinkDuckdb, SinksOnTheSameStoreShareOneInstance) {
  TempDir dir;
  SinkContext ctx{dir.path(), dir / "staging.duckdb"};
  auto a = make("duckdb", ctx);
  auto b = make("duckdb", ctx);
  TableSpec ta = bars_table();
  TableSpec tb = bars_table(WriteMode::upsert, "p2");
  tb.table = "weekly";
  ASSERT_TRUE(a->open(ta));
  ASSERT_TRUE(b->open(tb));
  ASSERT_TRUE(a->write(bars({{"A", D1, 1.0}})));
  ASSERT_TRUE(b->write(bars({{"W", D1, 2.0}})));
  ASSERT_TRUE(b->commit(cp("wb")));
  ASSERT_TRUE(a->commit(cp("da")));
  EXPECT_EQ(a->landed_tasks("p2").value(), (std::map<std::string, int64_t>{{"wb", 1}}));
  ASSERT_TRUE(a->close());
  ASSERT_TRUE(b->write(bars({{"W", D2, 3.0}})));  // b still works after a closed
  ASSERT_TRUE(b->commit(cp("wb2")));
  ASSERT_TRUE(b->close());
  EXPECT_EQ(read_rows(ctx.staging_path, kSelect), std::vector<std::string>{"A|2024-01-02|1.0"});
  EXPECT_EQ(read_rows(ctx.staging_path, "SELECT ts_code, close FROM weekly ORDER BY ALL"),
            (std::vector<std::string>{"W|2.0", "W|3.0"}));
}

// Run with --gtest_also_run_disabled_tests; numbers go to docs/sinks.md.
TEST(SinkDuckdbBench, DISABLED_OneMillionDailyBarsIn6000RowCommits) {
  for (WriteMode mode : {WriteMode::upsert, WriteMode::append}) {
    TempDir dir;
    SinkContext ctx{dir.path(), dir / "staging.duckdb"};
    Schema schema{{{"ts_code", DataType::string}, {"trade_date", DataType::date}}};
    for (const char* n :
         {"open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"})
      schema.fields.push_back({n, DataType::float64});
    TableSpec t;
    t.plan = "bench";
    t.table = "daily";
    t.schema = schema;
    t.primary_key = {"ts_code", "trade_date"};
    t.time_column = "trade_date";
    t.mode = mode;
    auto s = make("duckdb", ctx);
    ASSERT_TRUE(s->open(t));
    const int total = 1000000, per = 6000, days = 2500;
    auto start = std::chrono::steady_clock::now();
    std::clock_t cpu0 = std::clock();
    int written = 0;
    double write_s = 0, commit_s = 0;
    for (int task = 0; written < total; ++task) {
      RecordBatch b(schema);
      for (size_t c = 0; c < b.num_columns(); ++c) b.column(c).reserve(per);
      for (int i = 0; i < per && written < total; ++i, ++written) {
        char code[16];
        std::snprintf(code, sizeof code, "%06d.SZ", written / days);
        b.column(0).append_string(code);
        b.column(1).append_int(days_from_civil(2010, 1, 1) + written % days);
        for (size_t c = 2; c < 11; ++c) b.column(c).append_double(written * 0.01 + c);
      }
      auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(s->write(b));
      auto t1 = std::chrono::steady_clock::now();
      ASSERT_TRUE(s->commit(cp("t" + std::to_string(task))));
      write_s += std::chrono::duration<double>(t1 - t0).count();
      commit_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }
    std::printf("write %.2f s, commit %.2f s\n", write_s, commit_s);
    ASSERT_TRUE(s->close());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    std::printf("duckdb sink, mode %s: %d rows in %.2f s = %.0f rows/s (cpu %.2f s)\n",
                std::string(to_string(mode)).c_str(), total, secs, total / secs, cpu);
    EXPECT_EQ(read_rows(ctx.staging_path, "SELECT count(*) FROM daily"),
              std::vector<std::string>{"1000000"});
  }
}

}  // namespace
}  // namespace finsync::sink
