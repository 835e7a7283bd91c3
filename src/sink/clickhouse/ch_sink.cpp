#include "sink/clickhouse/ch_sink.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "sink/clickhouse/ch_http.hpp"
#include "sink/clickhouse/ch_sql.hpp"
#include "sink/clickhouse/ch_types.hpp"
#include "sink/clickhouse/ch_url.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/db/value_text.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::clickhouse {

namespace {

constexpr const char* kMarkers = "_finsync_landed";
// One insert is one block only up to max_insert_block_size rows (ch_http.cpp sets it).
constexpr int64_t kMaxBlockRows = 1'048'576;
// An insert's data is encoded this much at a time into the request body.
constexpr size_t kChunk = 256 * 1024;
// DUPLICATE_COLUMN: another process added the column first.
constexpr int kDuplicateColumn = 15;

bool is_key(const db::TableDesign& t, const std::string& column) {
  return std::find(t.key.begin(), t.key.end(), column) != t.key.end();
}

std::string stage_name(const std::string& table) {
  return "_finsync_stage_" + table;
}

std::vector<std::string> split_key(const std::string& sorting_key) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= sorting_key.size() && !sorting_key.empty()) {
    size_t comma = sorting_key.find(',', at);
    if (comma == std::string::npos) comma = sorting_key.size();
    std::string part = sorting_key.substr(at, comma - at);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (part.size() > 1 && part.front() == '`' && part.back() == '`')
      part = part.substr(1, part.size() - 2);
    out.push_back(part);
    at = comma + 1;
  }
  return out;
}

class ChSession final : public db::Session {
 public:
  ChSession(Url url, std::vector<std::string> partition_by)
      : http_(std::move(url)), partition_by_(std::move(partition_by)) {}

  Result<void> set_up() {
    auto v = http_.run("connect", "SELECT version() FORMAT TabSeparated");
    if (!v) return fail(v.error());
    version_ = v->substr(0, v->find('\n'));
    return {};
  }

  Result<std::string> server_version() override { return "ClickHouse " + version_; }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto cols = query("describing the table",
                      fmt::format("SELECT name, type FROM system.columns WHERE database = {} AND "
                                  "table = {}",
                                  literal(db()), literal(table)));
    if (!cols) return fail(cols.error());
    if (cols->empty()) return std::optional<TableShape>();
    TableShape shape;
    for (const auto& row : *cols) {
      if (row.size() < 2) continue;
      bool nullable = false;
      std::string type = strip_nullable(row[1], nullable);
      shape.columns.push_back({row[0], std::move(type), nullable});
    }
    auto info = query("reading the order key",
                      fmt::format("SELECT engine, sorting_key FROM system.tables WHERE database = "
                                  "{} AND name = {}",
                                  literal(db()), literal(table)));
    if (!info) return fail(info.error());
    // Only ReplacingMergeTree makes a re-landed row replace itself: another engine's key is
    // reported as not the plan's.
    if (!info->empty() && (*info)[0].size() >= 2) {
      if ((*info)[0][0] == "ReplacingMergeTree")
        shape.key = split_key((*info)[0][1]);
      else
        shape.key = {fmt::format("{} engine, not ReplacingMergeTree", (*info)[0][0])};
    }
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    if (t.key.empty())
      return fail(ErrorKind::invalid_input,
                  "a clickhouse table is ReplacingMergeTree ordered by the endpoint's primary "
                  "key (that is what makes landing a row twice harmless), and this endpoint has "
                  "none");
    auto partition = partition_expression(t);
    if (!partition) return fail(partition.error());
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      const auto& f = t.schema.fields[i];
      defs.push_back(quote_name(f.name) + " " +
                     (is_key(t, f.name) ? t.types[i] : "Nullable(" + t.types[i] + ")"));
    }
    return exec("creating the table",
                fmt::format("CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = ReplacingMergeTree() "
                            "PARTITION BY {} ORDER BY ({})",
                            qualified(t.name), fmt::join(defs, ", "), *partition,
                            db::join_mapped(t.key, ", ", quote_name)));
  }

  Result<void> add_column(const db::TableDesign& t, const Field& f,
                          const std::string& type) override {
    auto r = exec("adding a column", fmt::format("ALTER TABLE {} ADD COLUMN {} Nullable({})",
                                                 qualified(t.name), quote_name(f.name), type));
    if (!r && http_.last_code() == kDuplicateColumn) return {};
    return r;
  }

  Result<void> create_markers() override {
    return exec("creating _finsync_landed",
                fmt::format("CREATE TABLE IF NOT EXISTS {} (plan String, task_id String, "
                            "`window` String, page Int32, `rows` Int64, commit_id String, "
                            "landed_at Int64) ENGINE = ReplacingMergeTree() ORDER BY (plan, "
                            "task_id, page)",
                            qualified(kMarkers)));
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    auto r = query("reading landed markers",
                   fmt::format("SELECT task_id, sum(`rows`) FROM {} FINAL WHERE plan = {} GROUP "
                               "BY task_id",
                               qualified(kMarkers), literal(plan)));
    if (!r) return fail(r.error());
    for (const auto& row : *r)
      if (row.size() >= 2) out[row[0]] = std::strtoll(row[1].c_str(), nullptr, 10);
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    auto r =
        query("reading landed markers", fmt::format("SELECT count() FROM {} WHERE commit_id = {}",
                                                    qualified(kMarkers), literal(commit_id)));
    if (!r) return fail(r.error());
    return !r->empty() && !(*r)[0].empty() && (*r)[0][0] != "0";
  }

  // No transactions: each insert is atomic by itself (ch_sink.hpp).
  Result<void> begin() override {
    staging_ = false;
    return {};
  }
  Result<void> commit() override { return {}; }
  void rollback() override {
    if (staging_) (void)exec("dropping the stage table", "DROP TABLE IF EXISTS " + stage_);
    staging_ = false;
  }

  // DISTINCT folds the rows a ReplacingMergeTree has not merged yet, as FINAL would.
  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    const int tc = t.field_index(t.time_column);
    const std::string col = quote_name(t.time_column);
    const std::string day = tc >= 0 && t.schema.fields[tc].type == DataType::timestamp
                                ? "toInt64(floor(" + col + " / 86400000))"  // epoch milliseconds
                                : "toInt32(" + col + ")";
    auto r = query("reading the landed days",
                   db::landed_days_sql(
                       qualified(t.name),
                       symbol_column.empty() ? "''" : "toString(" + quote_name(symbol_column) + ")",
                       day, col));
    if (!r) return fail(r.error());
    db::LandedDays out;
    for (const auto& row : *r)
      if (row.size() >= 2) out[row[0]].push_back(int32_t(std::strtol(row[1].c_str(), nullptr, 10)));
    return out;
  }

  // replace: table. The landing's rows go to a fresh stage table of the same structure, and
  // finish_rows swaps its partitions in: readers see the old table until then.
  Result<void> delete_all(const db::TableDesign& t) override {
    stage_ = qualified(stage_name(t.name));
    if (auto r = exec("dropping the stage table", "DROP TABLE IF EXISTS " + stage_); !r) return r;
    if (auto r = exec("creating the stage table",
                      fmt::format("CREATE TABLE {} AS {}", stage_, qualified(t.name)));
        !r)
      return r;
    staging_ = true;
    return {};
  }

  // replace: partition. A mutation deletes the task's rows from the parts that exist now; rows
  // inserted after it was created are not touched by it. Waited for, so the landing ends with
  // the old rows gone.
  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    std::string where = "1 = 1";
    for (const auto& [col, value] : scope.equals) {
      const int i = t.field_index(col);
      const bool text = i < 0 || t.schema.fields[i].type == DataType::string;
      where += fmt::format(" AND {} = {}", quote_name(col),
                           text ? literal(value) : "toInt64(" + literal(value) + ")");
    }
    if (!scope.time_column.empty()) {
      const int tc = t.field_index(scope.time_column);
      const std::string c = quote_name(scope.time_column);
      if (tc >= 0 && t.schema.fields[tc].type == DataType::timestamp) {
        where +=
            fmt::format(" AND {0} >= {1} AND {0} < {2}", c, int64_t(scope.first_day) * 86'400'000,
                        (int64_t(scope.last_day) + 1) * 86'400'000);
      } else {
        where += fmt::format(" AND {} BETWEEN toDate({}) AND toDate({})", c,
                             literal(db::date_text(scope.first_day)),
                             literal(db::date_text(scope.last_day)));
      }
    }
    if (auto r = exec("deleting the task's rows (replace)",
                      fmt::format("ALTER TABLE {} DELETE WHERE {}", qualified(t.name), where));
        !r)
      return r;
    return wait_mutations(t.name);
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    std::vector<bool> nullable;
    for (const auto& f : t.schema.fields) nullable.push_back(!is_key(t, f.name));
    const std::string sql =
        fmt::format("INSERT INTO {} ({}) FORMAT RowBinary", staging_ ? stage_ : qualified(t.name),
                    db::join_mapped(names(t), ", ", quote_name));
    std::string pending;
    size_t at = 0, next = begin;
    Producer produce = [&](char* buf, size_t len) -> size_t {
      size_t out = 0;
      while (out < len) {
        if (at == pending.size()) {
          pending.clear();
          at = 0;
          while (next < end && pending.size() < kChunk) {
            const size_t upto = std::min(end, next + 256);
            append_rows(b, next, upto, nullable, pending);
            next = upto;
          }
          if (pending.empty()) break;
        }
        const size_t n = std::min(len - out, pending.size() - at);
        std::memcpy(buf + out, pending.data() + at, n);
        at += n;
        out += n;
      }
      return out;
    };
    return http_.insert(fmt::format("inserting rows {}..{} of the batch", begin + 1, end), sql,
                        produce);
  }

  Result<void> finish_rows(const db::TableDesign& t) override {
    if (!staging_) return {};
    auto staged = partitions(stage_name(t.name));
    if (!staged) return fail(staged.error());
    auto current = partitions(t.name);
    if (!current) return fail(current.error());
    const std::string target = qualified(t.name);
    // Each REPLACE PARTITION swaps one partition atomically; with the default PARTITION BY
    // tuple() the table is one partition and the replace one statement.
    for (const auto& p : *staged)
      if (auto r = exec("replacing a partition from the stage table",
                        fmt::format("ALTER TABLE {} REPLACE PARTITION ID {} FROM {}", target,
                                    literal(p), stage_));
          !r)
        return r;
    for (const auto& p : *current)
      if (!staged->count(p))
        if (auto r = exec("dropping a partition the replace does not have",
                          fmt::format("ALTER TABLE {} DROP PARTITION ID {}", target, literal(p)));
            !r)
          return r;
    staging_ = false;
    return exec("dropping the stage table", "DROP TABLE IF EXISTS " + stage_);
  }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    if (markers.empty()) return {};
    std::vector<std::string> rows;
    for (const auto& m : markers) {
      const int64_t ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(m.landed_at.time_since_epoch())
              .count();
      rows.push_back(fmt::format("({}, {}, {}, {}, {}, {}, {})", literal(m.plan),
                                 literal(m.task_id), literal(m.window), m.page, m.rows,
                                 literal(m.commit_id), ms));
    }
    return exec("writing landed markers",
                fmt::format("INSERT INTO {} (plan, task_id, `window`, page, `rows`, commit_id, "
                            "landed_at) VALUES {}",
                            qualified(kMarkers), fmt::join(rows, ", ")));
  }

 private:
  const std::string& db() const { return http_.url().database; }
  std::string qualified(const std::string& table) const {
    return quote_name(db()) + "." + quote_name(table);
  }
  static std::vector<std::string> names(const db::TableDesign& t) {
    std::vector<std::string> out;
    for (const auto& f : t.schema.fields) out.push_back(f.name);
    return out;
  }

  Result<void> exec(std::string_view what, const std::string& sql) {
    auto r = http_.run(what, sql);
    if (!r) return fail(r.error());
    return {};
  }

  Result<std::vector<std::vector<std::string>>> query(std::string_view what,
                                                      const std::string& sql) {
    auto r = http_.run(what, sql + " FORMAT TabSeparated");
    if (!r) return fail(r.error());
    return parse_tsv(*r);
  }

  Result<std::set<std::string>> partitions(const std::string& table) {
    auto r = query("reading partitions",
                   fmt::format("SELECT DISTINCT partition_id FROM system.parts WHERE database = "
                               "{} AND table = {} AND active",
                               literal(db()), literal(table)));
    if (!r) return fail(r.error());
    std::set<std::string> out;
    for (const auto& row : *r)
      if (!row.empty()) out.insert(row[0]);
    return out;
  }

  Result<void> wait_mutations(const std::string& table) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    for (auto pause = std::chrono::milliseconds(10);;
         pause = std::min(pause * 2, std::chrono::milliseconds(500))) {
      auto r = query("waiting for the delete",
                     fmt::format("SELECT count() FROM system.mutations WHERE database = {} AND "
                                 "table = {} AND is_done = 0",
                                 literal(db()), literal(table)));
      if (!r) return fail(r.error());
      if (r->empty() || r->front().empty() || r->front()[0] == "0") return {};
      if (std::chrono::steady_clock::now() > until)
        return fail(ErrorKind::permanent,
                    fmt::format("the delete of the task's rows (replace) did not finish in 10 "
                                "minutes; see system.mutations for table {}",
                                table));
      std::this_thread::sleep_for(pause);
    }
  }

  Http http_;
  std::vector<std::string> partition_by_;
  std::string version_;
  bool staging_ = false;  // this landing's rows go to the stage table (replace: table)
  std::string stage_;

  // PARTITION BY: tuple() (one partition) unless the spec's partition_by names key columns or
  // "year" of the time column.
  Result<std::string> partition_expression(const db::TableDesign& t) const {
    if (partition_by_.empty()) return std::string("tuple()");
    std::vector<std::string> parts;
    for (const auto& p : partition_by_) {
      if (p == "year") {
        const int tc = t.field_index(t.time_column);
        if (tc < 0)
          return fail(ErrorKind::invalid_input,
                      "partition_by: year needs the endpoint's time column, and it has none");
        const std::string c = quote_name(t.time_column);
        parts.push_back(t.schema.fields[tc].type == DataType::timestamp
                            ? fmt::format("toYear(toDateTime(intDiv({}, 1000)))", c)
                            : fmt::format("toYear({})", c));
      } else if (is_key(t, p)) {
        parts.push_back(quote_name(p));
      } else {
        return fail(ErrorKind::invalid_input,
                    fmt::format("partition_by: '{}' is not a key column or year; expected key "
                                "columns ({}) or year",
                                p, fmt::join(t.key, ", ")));
      }
    }
    return "(" + fmt::format("{}", fmt::join(parts, ", ")) + ")";
  }
};

class ChDriver final : public db::Driver {
 public:
  ChDriver(const std::string& url, const std::string& password, const std::string& database,
           std::vector<std::string> partition_by)
      : partition_by_(std::move(partition_by)) {
    secrets::register_secret(password);
    auto parsed = parse_url(url);
    if (parsed) {
      url_ = std::move(*parsed);
      if (!password.empty()) url_.password = password;
      if (!database.empty()) url_.database = database;
      where_ = url_.where();
    } else {
      url_error_ = parsed.error();
      where_ = "(invalid url)";
    }
  }

  std::string_view kind() const override { return "clickhouse"; }
  std::string where() const override { return where_; }
  db::Capabilities capabilities() const override {
    return db::Capabilities{
        .transactions = false, .multi_writer = true, .non_finite_doubles = true};
  }
  std::string column_type(DataType t) const override { return clickhouse::column_type(t); }
  // ClickHouse type names are case-sensitive.
  bool same_type(std::string_view expected, std::string_view found) const override {
    return expected == found;
  }
  db::ValueLimits limits() const override {
    db::ValueLimits l;
    l.min_day = 0;
    l.max_day = last_date();
    l.date_range = "1970-01-01..2105-12-31";
    l.micros_step = 1000;
    l.timestamp_range = "Int64 milliseconds since 1970-01-01 UTC";
    return l;
  }
  int64_t default_batch_size() const override { return 100'000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    if (url_error_) return fail(ErrorKind::invalid_input, "invalid url: " + url_error_->message);
    auto s = std::make_unique<ChSession>(url_, partition_by_);
    if (auto r = s->set_up(); !r) return fail(r.error());
    return std::unique_ptr<db::Session>(std::move(s));
  }

 private:
  Url url_;
  std::optional<Error> url_error_;
  std::vector<std::string> partition_by_;
  std::string where_;
};

}  // namespace

void register_clickhouse_sink(SinkRegistry& registry) {
  registry.add(
      "clickhouse", [](const SinkSpec& spec, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
        if (auto k =
                check_keys(spec, {"url", "dsn", "password", "database", "replace", "batch_size",
                                  "schema_drift", "max_retries", "partition_by"});
            !k)
          return fail(k.error());
        const std::string url = option_or(spec, "url", "");
        if (!url.empty() && !spec.dsn.empty())
          return fail(
              ErrorKind::invalid_input,
              fmt::format("{}: give the server as url or as dsn, not both", spec.located("dsn")));
        if (url.empty() && spec.dsn.empty())
          return fail(missing(spec, "url", "a url (http://user@host:8123/?database=db)"));
        if (spec.batch_size > kMaxBlockRows)
          return fail(ErrorKind::invalid_input,
                      fmt::format("{}: {} is above {}, the most rows one ClickHouse "
                                  "insert block holds (an insert is atomic only within "
                                  "one block)",
                                  spec.located("batch_size"), spec.batch_size, kMaxBlockRows));
        auto driver =
            std::make_unique<ChDriver>(url.empty() ? spec.dsn : url, spec.password,
                                       option_or(spec, "database", ""), spec.partition_by);
        auto s = db::make_db_sink(std::move(driver), spec);
        if (!s) return fail(s.error());
        return std::unique_ptr<Sink>(std::move(*s));
      });
}

}  // namespace finsync::sink::clickhouse
