#include "sink/sqlite/sqlite_sink.hpp"

#include <sqlite3.h>

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "sink/db/db_sink.hpp"
#include "sink/db/value_text.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::sqlite {

namespace fs = std::filesystem;
using db::quote_ident;

namespace {

// Busy or locked: another connection holds the write lock, try again; a constraint is the data;
// a file that is not a database or cannot be opened is for the user to fix.
ErrorKind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return ErrorKind::transient;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return ErrorKind::invalid_input;
    case SQLITE_AUTH:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return ErrorKind::auth;
    default:
      return ErrorKind::permanent;
  }
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

class SqliteSession final : public db::Session {
 public:
  SqliteSession(sqlite3* db, std::string where) : db_(db), where_(std::move(where)) {}
  ~SqliteSession() override {
    stmts_.clear();
    sqlite3_close_v2(db_);
  }

  Result<std::string> server_version() override {
    return fmt::format("SQLite {}", sqlite3_libversion());
  }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto st = prepare(fmt::format("PRAGMA table_xinfo({})", quote_ident(table)));
    if (!st) return fail(st.error());
    TableShape shape;
    std::vector<std::pair<int, std::string>> key;
    int rc;
    while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
      if (sqlite3_column_int(st->get(), 6) != 0) continue;  // hidden (generated) column
      ColumnShape c;
      c.name = text(st->get(), 1);
      c.type = text(st->get(), 2);
      const int pk = sqlite3_column_int(st->get(), 5);
      // A primary key column of a WITHOUT ROWID table is NOT NULL whether declared or not.
      c.nullable = sqlite3_column_int(st->get(), 3) == 0 && pk == 0;
      if (pk > 0) key.emplace_back(pk, c.name);
      shape.columns.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return fail(error(rc, "describing the table"));
    if (shape.columns.empty()) return std::optional<TableShape>();
    std::sort(key.begin(), key.end());
    for (auto& [_, n] : key) shape.key.push_back(n);
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      const auto& f = t.schema.fields[i];
      const bool key = std::find(t.key.begin(), t.key.end(), f.name) != t.key.end();
      defs.push_back(quote_ident(f.name) + " " + t.types[i] + (key ? " NOT NULL" : ""));
    }
    std::string suffix = " STRICT";
    if (t.unique_key) {
      defs.push_back("PRIMARY KEY(" + db::join_mapped(t.key, ", ", quote_ident) + ")");
      // Rows clustered by the key: one B-tree instead of a table plus a key index.
      suffix = " WITHOUT ROWID, STRICT";
    }
    return exec(fmt::format("CREATE TABLE IF NOT EXISTS {}({}){}", quote_ident(t.name),
                            fmt::join(defs, ", "), suffix),
                "creating the table");
  }

  Result<void> add_column(const db::TableDesign& t, const Field& f,
                          const std::string& type) override {
    stmts_.clear();  // prepared statements name the old column list
    return exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", quote_ident(t.name),
                            quote_ident(f.name), type),
                "adding a column");
  }

  Result<void> create_markers() override {
    return exec(
        "CREATE TABLE IF NOT EXISTS _finsync_landed(plan TEXT NOT NULL, task_id TEXT NOT NULL, "
        "\"window\" TEXT, page INTEGER NOT NULL, \"rows\" INTEGER, commit_id TEXT, landed_at TEXT, "
        "PRIMARY KEY(plan, task_id, page)) WITHOUT ROWID, STRICT",
        "creating _finsync_landed");
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    auto exists = markers_exist();
    if (!exists) return fail(exists.error());
    if (!*exists) return out;
    auto st = prepare(
        "SELECT task_id, sum(\"rows\") FROM _finsync_landed WHERE plan = ? GROUP BY task_id");
    if (!st) return fail(st.error());
    sqlite3_bind_text(st->get(), 1, plan.data(), int(plan.size()), SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st->get())) == SQLITE_ROW)
      out[text(st->get(), 0)] = sqlite3_column_int64(st->get(), 1);
    if (rc != SQLITE_DONE) return fail(error(rc, "reading landed markers"));
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    auto exists = markers_exist();
    if (!exists || !*exists) return exists;
    auto st = prepare("SELECT 1 FROM _finsync_landed WHERE commit_id = ? LIMIT 1");
    if (!st) return fail(st.error());
    sqlite3_bind_text(st->get(), 1, commit_id.data(), int(commit_id.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st->get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(error(rc, "reading landed markers"));
    return rc == SQLITE_ROW;
  }

  // IMMEDIATE: take the write lock now, so a second writer waits here instead of failing at its
  // first write with a lock upgrade it cannot get.
  Result<void> begin() override { return exec("BEGIN IMMEDIATE", "BEGIN"); }
  Result<void> commit() override { return exec("COMMIT", "COMMIT"); }
  void rollback() override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    // Dates and timestamps are ISO 8601 text in UTC: the first ten characters are the day.
    const std::string col = quote_ident(t.time_column);
    auto st = prepare(db::landed_days_sql(
        quote_ident(t.name),
        symbol_column.empty() ? "''" : "CAST(" + quote_ident(symbol_column) + " AS TEXT)",
        "CAST(julianday(substr(" + col + ", 1, 10)) - 2440587.5 AS INTEGER)", col));
    if (!st) return fail(st.error());
    db::LandedDays out;
    int rc;
    while ((rc = sqlite3_step(st->get())) == SQLITE_ROW)
      out[text(st->get(), 0)].push_back(int32_t(sqlite3_column_int64(st->get(), 1)));
    if (rc != SQLITE_DONE) return fail(error(rc, "reading the landed days"));
    return out;
  }

  Result<void> delete_all(const db::TableDesign& t) override {
    return exec("DELETE FROM " + quote_ident(t.name), "emptying the table (replace)");
  }

  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    std::string sql = "DELETE FROM " + quote_ident(t.name) + " WHERE 1 = 1";
    std::vector<std::string> params;
    for (const auto& [col, value] : scope.equals) {
      sql += " AND " + quote_ident(col) + " = ?";
      params.push_back(value);
    }
    if (!scope.time_column.empty()) {
      const int tc = t.field_index(scope.time_column);
      if (tc >= 0 && t.schema.fields[tc].type == DataType::timestamp) {
        sql += " AND " + quote_ident(scope.time_column) + " >= ? AND " +
               quote_ident(scope.time_column) + " < ?";
        params.push_back(db::timestamp_text(int64_t(scope.first_day) * 86'400'000'000));
        params.push_back(db::timestamp_text(int64_t(scope.last_day + 1) * 86'400'000'000));
      } else {
        sql += " AND " + quote_ident(scope.time_column) + " BETWEEN ? AND ?";
        params.push_back(db::date_text(scope.first_day));
        params.push_back(db::date_text(scope.last_day));
      }
    }
    auto st = prepare(sql);
    if (!st) return fail(st.error());
    for (size_t i = 0; i < params.size(); ++i)
      sqlite3_bind_text(st->get(), int(i + 1), params[i].data(), int(params[i].size()),
                        SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st->get());
    if (rc != SQLITE_DONE) return fail(error(rc, "deleting the task's rows (replace)"));
    return {};
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    auto st = insert_statement(t);
    if (!st) return fail(st.error());
    sqlite3_stmt* s = *st;
    const size_t ncols = b.num_columns();
    char buf[32];
    for (size_t r = begin; r < end; ++r) {
      for (size_t c = 0; c < ncols; ++c) {
        const Column& col = b.column(c);
        const int i = int(c + 1);
        if (!col.valid(r)) {
          sqlite3_bind_null(s, i);
          continue;
        }
        switch (col.type()) {
          case DataType::int64:
          case DataType::boolean:
            sqlite3_bind_int64(s, i, col.int_at(r));
            break;
          case DataType::float64:
            sqlite3_bind_double(s, i, col.double_at(r));
            break;
          case DataType::string: {
            const std::string& v = col.string_at(r);
            sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_STATIC);
            break;
          }
          case DataType::date: {
            char* e = db::format_date(int32_t(col.int_at(r)), buf);
            sqlite3_bind_text(s, i, buf, int(e - buf), SQLITE_TRANSIENT);
            break;
          }
          case DataType::timestamp: {
            char* e = db::format_timestamp(col.int_at(r), buf);
            sqlite3_bind_text(s, i, buf, int(e - buf), SQLITE_TRANSIENT);
            break;
          }
        }
      }
      const int rc = sqlite3_step(s);
      sqlite3_reset(s);
      if (rc != SQLITE_DONE) return fail(error(rc, fmt::format("writing row {}", r + 1)));
    }
    sqlite3_clear_bindings(s);
    return {};
  }

  Result<void> finish_rows(const db::TableDesign&) override { return {}; }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    auto st = cached(
        "markers",
        "INSERT INTO _finsync_landed(plan, task_id, \"window\", page, \"rows\", commit_id, "
        "landed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(plan, task_id, page) DO UPDATE SET "
        "\"window\" = excluded.\"window\", \"rows\" = excluded.\"rows\", commit_id = "
        "excluded.commit_id, landed_at = excluded.landed_at");
    if (!st) return fail(st.error());
    sqlite3_stmt* s = *st;
    for (const auto& m : markers) {
      const std::string at = db::timestamp_text(
          std::chrono::duration_cast<std::chrono::microseconds>(m.landed_at.time_since_epoch())
              .count());
      sqlite3_bind_text(s, 1, m.plan.data(), int(m.plan.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 2, m.task_id.data(), int(m.task_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 3, m.window.data(), int(m.window.size()), SQLITE_STATIC);
      sqlite3_bind_int(s, 4, m.page);
      sqlite3_bind_int64(s, 5, m.rows);
      sqlite3_bind_text(s, 6, m.commit_id.data(), int(m.commit_id.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 7, at.data(), int(at.size()), SQLITE_TRANSIENT);
      const int rc = sqlite3_step(s);
      sqlite3_reset(s);
      if (rc != SQLITE_DONE) return fail(error(rc, "writing landed markers"));
    }
    sqlite3_clear_bindings(s);
    return {};
  }

  Result<void> exec(const std::string& sql, std::string_view what) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    if (rc == SQLITE_OK) return {};
    std::string m = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return fail(kind_of(sqlite3_extended_errcode(db_)), fmt::format("{}: {}", what, m));
  }

 private:
  static std::string text(sqlite3_stmt* s, int col) {
    const auto* p = sqlite3_column_text(s, col);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(s, col)))
             : std::string();
  }

  Error error(int rc, std::string_view what) const {
    return Error{kind_of(rc), fmt::format("{}: {}", what, sqlite3_errmsg(db_)), std::nullopt};
  }

  Result<Stmt> prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK) return fail(error(rc, "preparing a statement"));
    return Stmt(s);
  }

  Result<sqlite3_stmt*> cached(const std::string& name, const std::string& sql) {
    auto it = stmts_.find(name);
    if (it != stmts_.end()) return it->second.get();
    auto st = prepare(sql);
    if (!st) return fail(st.error());
    sqlite3_stmt* raw = st->get();
    stmts_.emplace(name, std::move(*st));
    return raw;
  }

  // INSERT, or INSERT ... ON CONFLICT(key) DO UPDATE: a key repeated inside one landing keeps
  // the last row written, as it does across landings.
  Result<sqlite3_stmt*> insert_statement(const db::TableDesign& t) {
    std::vector<std::string> cols;
    for (const auto& f : t.schema.fields) cols.push_back(f.name);
    std::string sql =
        fmt::format("INSERT INTO {}({}) VALUES ({})", quote_ident(t.name),
                    db::join_mapped(cols, ", ", quote_ident),
                    db::join_mapped(cols, ", ", [](const std::string&) { return "?"; }));
    if (t.unique_key) {
      std::vector<std::string> sets;
      for (const auto& c : cols)
        if (std::find(t.key.begin(), t.key.end(), c) == t.key.end())
          sets.push_back(quote_ident(c) + " = excluded." + quote_ident(c));
      sql += fmt::format(" ON CONFLICT({}) DO ", db::join_mapped(t.key, ", ", quote_ident));
      sql += sets.empty() ? "NOTHING" : "UPDATE SET " + fmt::format("{}", fmt::join(sets, ", "));
    }
    return cached("insert:" + t.name, sql);
  }

  Result<bool> markers_exist() {
    auto st =
        prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_finsync_landed'");
    if (!st) return fail(st.error());
    const int rc = sqlite3_step(st->get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(error(rc, "reading the schema"));
    return rc == SQLITE_ROW;
  }

  sqlite3* db_;
  std::string where_;
  std::map<std::string, Stmt> stmts_;
};

class SqliteDriver final : public db::Driver {
 public:
  explicit SqliteDriver(std::string path) : path_(std::move(path)) {}

  std::string_view kind() const override { return "sqlite"; }
  std::string where() const override { return path_; }
  db::Capabilities capabilities() const override {
    // SQLite stores NaN as NULL: refuse it rather than land a different value.
    return db::Capabilities{
        .transactions = true, .multi_writer = false, .non_finite_doubles = false};
  }
  std::string column_type(DataType t) const override {
    switch (t) {
      case DataType::int64:
      case DataType::boolean:
        return "INTEGER";
      case DataType::float64:
        return "REAL";
      case DataType::string:
      case DataType::date:
      case DataType::timestamp:
        return "TEXT";
    }
    return "TEXT";
  }
  db::ValueLimits limits() const override {
    // ISO 8601 text sorts and compares correctly only with four-digit years.
    db::ValueLimits l;
    l.min_day = db::first_day_of_year(0);
    l.max_day = db::first_day_of_year(10000) - 1;
    l.min_micros = int64_t(l.min_day) * 86'400'000'000;
    l.max_micros = int64_t(l.max_day + 1) * 86'400'000'000 - 1;
    l.date_range = "0000-01-01..9999-12-31, stored as ISO 8601 text";
    l.timestamp_range = l.date_range;
    return l;
  }
  int64_t default_batch_size() const override { return 10000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    sqlite3* h = nullptr;
    int rc =
        sqlite3_open_v2(path_.c_str(), &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = h ? sqlite3_errmsg(h) : sqlite3_errstr(rc);
      sqlite3_close_v2(h);
      return fail(ErrorKind::permanent, fmt::format("cannot open {}: {}", path_, msg));
    }
    auto s = std::make_unique<SqliteSession>(h, path_);
    // WAL: readers never block the writer. synchronous=FULL: a commit is on disk before the
    // task's checkpoint is saved in the state store (a separate file).
    if (auto r = s->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                         "PRAGMA busy_timeout=5000; PRAGMA foreign_keys=OFF",
                         "setting up the connection");
        !r)
      return fail(r.error());
    return std::unique_ptr<db::Session>(std::move(s));
  }

 private:
  std::string path_;
};

std::string absolute(const std::string& p, const std::string& base) {
  fs::path x(p);
  if (x.is_relative() && !base.empty()) x = fs::path(base) / x;
  std::error_code ec;
  fs::path a = fs::absolute(x, ec);
  return (ec ? x : a).lexically_normal().string();
}

}  // namespace

void register_sqlite_sink(SinkRegistry& registry) {
  registry.add(
      "sqlite", [](const SinkSpec& spec, const SinkContext& ctx) -> Result<std::unique_ptr<Sink>> {
        if (auto k =
                check_keys(spec, {"path", "replace", "batch_size", "schema_drift", "max_retries"});
            !k)
          return fail(k.error());
        std::string path = spec.path;
        if (path.empty()) {
          if (ctx.data_dir.empty())
            return fail(missing(spec, "path", "a path (no workspace data directory)"));
          path = "finsync.sqlite";
        }
        auto driver = std::make_unique<SqliteDriver>(absolute(path, ctx.data_dir));
        auto s = db::make_db_sink(std::move(driver), spec);
        if (!s) return fail(s.error());
        return std::unique_ptr<Sink>(std::move(*s));
      });
}

}  // namespace finsync::sink::sqlite
