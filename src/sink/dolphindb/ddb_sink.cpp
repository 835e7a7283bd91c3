#include "sink/dolphindb/ddb_sink.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/dolphindb/ddb_client.hpp"
#include "sink/dolphindb/ddb_dsn.hpp"
#include "sink/dolphindb/ddb_rows.hpp"
#include "sink/dolphindb/ddb_script.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::dolphindb {

namespace {

constexpr const char* kMarkers = "_finsync_landed";
// DFS databases the sink creates: this many HASH buckets on the first key column.
constexpr int kBuckets = 16;
// describe() finds a table's key in its columns' comments ("finsync key 1", ...): a DFS table
// keeps no key of its own (upsert! is given one on every call).
constexpr std::string_view kKeyComment = "finsync key ";

const std::vector<std::string> kMarkerNames{"plan",      "task_id",   "task_window", "page",
                                            "row_count", "commit_id", "landed_at"};
const std::vector<Type> kMarkerTypes{Type::string, Type::string, Type::string,   Type::int_,
                                     Type::long_,  Type::string, Type::timestamp};
const std::vector<std::string> kMarkerKey{"plan", "task_id", "page"};

std::string type_list(const std::vector<Type>& types) {
  std::vector<std::string> names;
  for (Type t : types) names.push_back(type_name(t));
  return fmt::format("[{}]", fmt::join(names, ", "));
}

const Object* column_of(const Object& table, std::string_view name) {
  for (size_t i = 0; i < table.names.size(); ++i)
    if (table.names[i] == name && i < table.items.size()) return &table.items[i];
  return nullptr;
}

Error unexpected_answer(std::string_view what, const Object& o) {
  return Error{
      ErrorKind::permanent,
      fmt::format("unexpected answer to {}: {} form {}", what, type_name(o.type), int(o.form)),
      {}};
}

class DdbSession final : public db::Session {
 public:
  DdbSession(std::unique_ptr<Client> client, Place place)
      : c_(std::move(client)), place_(std::move(place)) {}

  Result<std::string> server_version() override {
    auto v = run("reading the version", "version()");
    if (!v) return fail(v.error());
    if (v->type != Type::string || v->strings.empty())
      return tl::unexpected(unexpected_answer("version()", *v));
    return "DolphinDB " + v->strings[0];
  }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto exists = flag("looking for the table", place_.exists(table));
    if (!exists) return fail(exists.error());
    if (!*exists) return std::optional<TableShape>();
    auto cols = run("describing the table",
                    fmt::format("select name, typeString, comment from schema({}).colDefs",
                                place_.table(table)));
    if (!cols) return fail(cols.error());
    const Object* names = column_of(*cols, "name");
    const Object* types = column_of(*cols, "typeString");
    const Object* comments = column_of(*cols, "comment");
    if (cols->form != Form::table || names == nullptr || types == nullptr || comments == nullptr)
      return tl::unexpected(unexpected_answer("schema().colDefs", *cols));
    TableShape shape;
    std::vector<std::pair<int, std::string>> key;
    for (size_t i = 0; i < names->strings.size(); ++i) {
      const std::string& comment = comments->strings[i];
      const bool in_key = comment.starts_with(kKeyComment);
      if (in_key)
        key.emplace_back(std::atoi(comment.c_str() + kKeyComment.size()), names->strings[i]);
      // DolphinDB has no NOT NULL: key columns are the ones the sink keeps free of nulls.
      shape.columns.push_back({names->strings[i], types->strings[i], !in_key});
    }
    std::sort(key.begin(), key.end());
    for (auto& [n, name] : key) shape.key.push_back(std::move(name));
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    if (t.key.empty())
      return fail(ErrorKind::invalid_input,
                  "a dolphindb table is partitioned (DFS) or keyed (in memory) on the "
                  "endpoint's primary key, and this endpoint has none");
    std::vector<std::string> names;
    std::vector<Type> types;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      if (auto r = check_name(t.schema.fields[i].name, "column"); !r) return r;
      names.push_back(t.schema.fields[i].name);
      types.push_back(*parse_type(t.types[i]));
    }
    const std::string empty = fmt::format("table(1:0, {}, {})", symbols(names), type_list(types));
    std::vector<std::string> comments;
    for (size_t i = 0; i < t.key.size(); ++i)
      comments.push_back(literal(fmt::format("{}{}", kKeyComment, i + 1)));
    const std::string comment =
        fmt::format("setColumnComment({}, dict({}, [{}]))", place_.table(t.name), symbols(t.key),
                    fmt::join(comments, ", "));
    if (!place_.dfs()) {
      const std::string made = t.unique_key
                                   ? fmt::format("keyedTable({}, 1:0, {}, {})", symbols(t.key),
                                                 symbols(names), type_list(types))
                                   : empty;
      return exec("creating the table", fmt::format("if (!{}) {{\n  share {} as {}\n  {}\n}}",
                                                    place_.exists(t.name), made, t.name, comment));
    }
    const int first = t.field_index(t.key[0]);
    if (auto r = exec("creating the database",
                      fmt::format("if (!existsDatabase({0})) {{\n  database({0}, HASH, [{1}, "
                                  "{2}])\n}}",
                                  literal(place_.database), t.types[first], kBuckets));
        !r)
      return r;
    if (auto r = exec("creating the table",
                      fmt::format("if (!{}) {{\n  createPartitionedTable(database({}), {}, {}, "
                                  "`{})\n  {}\n}}",
                                  place_.exists(t.name), literal(place_.database), empty,
                                  literal(t.name), t.key[0], comment));
        !r)
      return r;
    return create_markers();
  }

  Result<void> add_column(const db::TableDesign& t, const Field& f,
                          const std::string& type) override {
    if (auto r = check_name(f.name, "column"); !r) return r;
    return exec("adding a column",
                fmt::format("addColumn({}, `{}, {})", place_.table(t.name), f.name, type));
  }

  // A DFS database is made with the first table (its partitioning follows that table's key);
  // until then there is nowhere to put the markers, and nothing has landed.
  Result<void> create_markers() override {
    const std::string made =
        fmt::format("table(1:0, {}, {})", symbols(kMarkerNames), type_list(kMarkerTypes));
    if (!place_.dfs())
      return exec("creating _finsync_landed",
                  fmt::format("if (!{}) {{\n  share keyedTable({}, 1:0, {}, {}) as {}\n}}",
                              place_.exists(kMarkers), symbols(kMarkerKey), symbols(kMarkerNames),
                              type_list(kMarkerTypes), kMarkers));
    return exec(
        "creating _finsync_landed",
        fmt::format("if (existsDatabase({0}) && !{1}) {{\n  createDimensionTable("
                    "database({0}), {2}, {3})\n}}",
                    literal(place_.database), place_.exists(kMarkers), made, literal(kMarkers)));
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    auto exists = flag("looking for _finsync_landed", place_.exists(kMarkers));
    if (!exists) return fail(exists.error());
    if (!*exists) return out;
    auto r = run("reading landed markers",
                 fmt::format("select sum(row_count) as row_count from {} where plan = {} group "
                             "by task_id",
                             place_.table(kMarkers), literal(plan)));
    if (!r) return fail(r.error());
    const Object* ids = column_of(*r, "task_id");
    const Object* rows = column_of(*r, "row_count");
    if (r->form != Form::table || ids == nullptr || rows == nullptr ||
        ids->strings.size() != rows->ints.size())
      return tl::unexpected(unexpected_answer("the landed markers", *r));
    for (size_t i = 0; i < ids->strings.size(); ++i) out[ids->strings[i]] = rows->ints[i];
    return out;
  }

  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    // date() of a DATE is the day itself, of a TIMESTAMP its UTC day; rows without a time form
    // a null group, left out below.
    auto r = run(
        "reading the landed days",
        fmt::format("select count(*) as n from {} group by {}date({}) as d", place_.table(t.name),
                    symbol_column.empty() ? "" : symbol_column + ", ", t.time_column));
    if (!r) return fail(r.error());
    const Object* days = column_of(*r, "d");
    const Object* symbols = symbol_column.empty() ? nullptr : column_of(*r, symbol_column);
    if (r->form != Form::table || days == nullptr ||
        (!symbol_column.empty() &&
         (symbols == nullptr || symbols->strings.size() != days->ints.size())))
      return tl::unexpected(unexpected_answer("the landed days", *r));
    db::LandedDays out;
    for (size_t i = 0; i < days->ints.size(); ++i) {
      if (days->ints[i] == kNullInt) continue;
      out[symbols != nullptr ? symbols->strings[i] : ""].push_back(int32_t(days->ints[i]));
    }
    for (auto& [_, v] : out) std::sort(v.begin(), v.end());
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    auto exists = flag("looking for _finsync_landed", place_.exists(kMarkers));
    if (!exists || !*exists) return exists;
    auto r = run("reading landed markers", fmt::format("exec count(*) from {} where commit_id = {}",
                                                       place_.table(kMarkers), literal(commit_id)));
    if (!r) return fail(r.error());
    if (r->form != Form::scalar || r->ints.size() != 1)
      return tl::unexpected(unexpected_answer("the marker count", *r));
    return r->ints[0] > 0;
  }

  // No transactions: each call is atomic by itself (ddb_sink.hpp).
  Result<void> begin() override { return {}; }
  Result<void> commit() override { return {}; }
  void rollback() override {}

  Result<void> delete_all(const db::TableDesign& t) override {
    if (place_.dfs())
      return exec("emptying the table (replace)",
                  fmt::format("truncate({}, {})", literal(place_.database), literal(t.name)));
    return exec("emptying the table (replace)", fmt::format("delete from {}", t.name));
  }

  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    std::vector<std::string> where;
    for (const auto& [col, value] : scope.equals) {
      if (auto r = check_name(col, "column"); !r) return r;
      const int i = t.field_index(col);
      const bool text = i < 0 || t.schema.fields[i].type == DataType::string;
      where.push_back(fmt::format("{} = {}", col, text ? literal(value) : value));
    }
    if (!scope.time_column.empty()) {
      if (auto r = check_name(scope.time_column, "column"); !r) return r;
      const int tc = t.field_index(scope.time_column);
      if (tc >= 0 && t.schema.fields[tc].type == DataType::timestamp)
        where.push_back(fmt::format("{0} >= timestamp({1}) and {0} < timestamp({2})",
                                    scope.time_column, int64_t(scope.first_day) * 86'400'000,
                                    (int64_t(scope.last_day) + 1) * 86'400'000));
      else
        where.push_back(fmt::format("{} between {} : {}", scope.time_column,
                                    date_literal(scope.first_day), date_literal(scope.last_day)));
    }
    return exec("deleting the task's rows (replace)",
                fmt::format("delete from {}{}{}", place_.table(t.name),
                            where.empty() ? "" : " where ", fmt::join(where, " and ")));
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    std::vector<Type> types;
    for (const auto& name : t.types) types.push_back(*parse_type(name));
    std::string args;
    if (auto r = encode_rows(b, types, begin, end, args); !r)
      return fail(ErrorKind::invalid_input,
                  fmt::format("rows {}..{} of the batch: {}", begin + 1, end, r.error().message));
    const bool upsert =
        t.mode == WriteMode::upsert || (t.mode == WriteMode::replace && t.unique_key);
    const std::string fn = upsert ? upsert_function(t.name, t.key) : insert_function(t.name);
    auto r = c_->call(fn, 1, args);
    if (!r)
      return fail(r.error().kind, fmt::format("inserting rows {}..{} of the batch: {}", begin + 1,
                                              end, r.error().message));
    return {};
  }

  Result<void> finish_rows(const db::TableDesign&) override { return {}; }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    if (markers.empty()) return {};
    std::vector<Object> cols;
    for (Type t : kMarkerTypes) cols.push_back(Object::vector(t));
    for (const auto& m : markers) {
      cols[0].strings.push_back(m.plan);
      cols[1].strings.push_back(m.task_id);
      cols[2].strings.push_back(m.window);
      cols[3].ints.push_back(m.page);
      cols[4].ints.push_back(m.rows);
      cols[5].strings.push_back(m.commit_id);
      cols[6].ints.push_back(
          std::chrono::duration_cast<std::chrono::milliseconds>(m.landed_at.time_since_epoch())
              .count());
    }
    std::string args;
    encode(Object::table(kMarkerNames, std::move(cols)), args);
    auto r = c_->call(upsert_function(kMarkers, kMarkerKey), 1, args);
    if (!r) return fail(r.error().kind, "writing landed markers: " + r.error().message);
    return {};
  }

 private:
  // A keyed in-memory table merges on its own key; a DFS table is told the key each time.
  std::string upsert_function(const std::string& table, const std::vector<std::string>& key) const {
    if (!place_.dfs()) return fmt::format("upsert!{{{},,ignoreNull=false}}", table);
    return fmt::format("upsert!{{{},,ignoreNull=false,keyColNames={}}}", place_.table(table),
                       symbols(key));
  }
  std::string insert_function(const std::string& table) const {
    return fmt::format("tableInsert{{{}}}", place_.table(table));
  }

  Result<Object> run(std::string_view what, const std::string& script) {
    auto r = c_->run(script);
    if (!r) return fail(r.error().kind, fmt::format("{}: {}", what, r.error().message));
    return r;
  }
  Result<void> exec(std::string_view what, const std::string& script) {
    auto r = run(what, script);
    if (!r) return fail(r.error());
    return {};
  }
  Result<bool> flag(std::string_view what, const std::string& script) {
    auto r = run(what, script);
    if (!r) return fail(r.error());
    if (r->type != Type::bool_ || r->form != Form::scalar || r->ints.size() != 1)
      return tl::unexpected(unexpected_answer(script, *r));
    return r->ints[0] == 1;
  }

  std::unique_ptr<Client> c_;
  Place place_;
};

class DdbDriver final : public db::Driver {
 public:
  DdbDriver(const std::string& dsn, const std::string& password, std::string database) {
    secrets::register_secret(password);
    place_.database = std::move(database);
    auto parsed = parse_dsn(dsn);
    if (parsed) {
      dsn_ = std::move(*parsed);
      if (!password.empty()) dsn_.password = password;
      where_ = dsn_.where() + (place_.dfs() ? " " + place_.database : " (in-memory tables)");
    } else {
      dsn_error_ = parsed.error();
      where_ = "(invalid dsn)";
    }
  }

  std::string_view kind() const override { return "dolphindb"; }
  std::string where() const override { return where_; }
  db::Capabilities capabilities() const override {
    return db::Capabilities{
        .transactions = false, .multi_writer = true, .non_finite_doubles = false};
  }
  std::string column_type(DataType t) const override {
    return type_name(dolphindb::column_type(t, false));
  }
  std::string key_column_type(DataType t) const override {
    return type_name(dolphindb::column_type(t, true));
  }
  bool same_type(std::string_view expected, std::string_view found) const override {
    return expected == found;
  }
  db::ValueLimits limits() const override {
    db::ValueLimits l;
    l.min_day = dates::days_from_civil(1, 1, 1);
    l.max_day = dates::days_from_civil(9999, 12, 31);
    l.date_range = "0001-01-01..9999-12-31";
    l.min_micros = int64_t(l.min_day) * 86'400'000'000;
    l.max_micros = (int64_t(l.max_day) + 1) * 86'400'000'000 - 1000;
    l.micros_step = 1000;
    l.timestamp_range = "0001-01-01 00:00:00.000..9999-12-31 23:59:59.999 (milliseconds)";
    return l;
  }
  int64_t default_batch_size() const override { return 100'000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    if (dsn_error_) return fail(ErrorKind::invalid_input, "invalid dsn: " + dsn_error_->message);
    auto c = Client::open(dsn_);
    if (!c) return fail(c.error());
    return std::unique_ptr<db::Session>(std::make_unique<DdbSession>(std::move(*c), place_));
  }

 private:
  Dsn dsn_;
  std::optional<Error> dsn_error_;
  Place place_;
  std::string where_;
};

}  // namespace

void register_dolphindb_sink(SinkRegistry& registry) {
  registry.add(
      "dolphindb", [](const SinkSpec& spec, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
        if (auto k = check_keys(spec, {"dsn", "password", "database", "replace", "batch_size",
                                       "schema_drift", "max_retries"});
            !k)
          return fail(k.error());
        if (spec.dsn.empty())
          return fail(missing(spec, "dsn", "a dsn (dolphindb://user@host:8848)"));
        const std::string database = option_or(spec, "database", "");
        if (!database.empty() && !database.starts_with("dfs://"))
          return fail(ErrorKind::invalid_input,
                      fmt::format("{}: '{}' is not a DFS database path; expected dfs://name, or "
                                  "no database for in-memory tables",
                                  spec.located("database"), database));
        if (!spec.table.empty())
          if (auto r = check_name(spec.table, "table"); !r)
            return fail(ErrorKind::invalid_input,
                        fmt::format("{}: {}", spec.located("table"), r.error().message));
        auto driver = std::make_unique<DdbDriver>(spec.dsn, spec.password, database);
        auto s = db::make_db_sink(std::move(driver), spec);
        if (!s) return fail(s.error());
        return std::unique_ptr<Sink>(std::move(*s));
      });
}

}  // namespace finsync::sink::dolphindb
