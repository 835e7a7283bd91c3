#include "sink/postgres/pg_sink.hpp"

#include <unistd.h>

#include <pwd.h>
#include <algorithm>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/secrets.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/db/value_text.hpp"
#include "sink/postgres/pg_copy.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::postgres {

using db::quote_ident;
using db::quote_literal;

namespace {

constexpr const char* kStage = "pg_temp._finsync_stage";

std::string one_line(std::string_view msg) {
  std::string out;
  for (char c : msg) {
    if (c == '\n')
      out += ' ';
    else if (c != '\t')
      out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// By SQLSTATE: what to do about a failed statement.
ErrorKind kind_of(std::string_view sqlstate) {
  const std::string_view cls = sqlstate.substr(0, std::min<size_t>(2, sqlstate.size()));
  if (cls == "08") return ErrorKind::transient;  // connection exception
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03")
    return ErrorKind::transient;  // the server shuts down, crashed or is starting
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "53300")
    return ErrorKind::transient;  // serialization, deadlock, lock timeout, too many connections
  if (cls == "28" || sqlstate == "42501") return ErrorKind::auth;
  if (cls == "22" || cls == "23") return ErrorKind::invalid_input;  // data, constraint
  return ErrorKind::permanent;
}

// Connection failures carry no SQLSTATE; libpq's wording is all there is.
ErrorKind connect_kind(PGconn* conn, std::string_view msg) {
  if (PQconnectionNeedsPassword(conn) != 0 || msg.find("authentication") != std::string_view::npos)
    return ErrorKind::auth;
  if (msg.find("role \"") != std::string_view::npos &&
      msg.find("does not exist") != std::string_view::npos)
    return ErrorKind::auth;
  if (msg.find("database \"") != std::string_view::npos &&
      msg.find("does not exist") != std::string_view::npos)
    return ErrorKind::invalid_input;
  if (msg.find("starting up") != std::string_view::npos ||
      msg.find("shutting down") != std::string_view::npos ||
      msg.find("in recovery") != std::string_view::npos ||
      msg.find("too many clients") != std::string_view::npos)
    return ErrorKind::transient;
  return ErrorKind::unreachable;
}

void drop_notice(void*, const char* message) {
  spdlog::debug("postgres: {}", one_line(message));
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// host, port, dbname and user of a DSN after libpq's defaults.
struct Address {
  std::string host, port, dbname, user;
  bool ok = false;
};

Address address_of(const std::string& dsn) {
  Address a;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  PQfreemem(err);
  if (opts == nullptr) return a;
  auto val = [&](std::string_view key) -> std::string {
    for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
      if (key == o->keyword && o->val != nullptr && *o->val != 0) return o->val;
    return "";
  };
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
  };
  a.host = val("host");
  if (a.host.empty()) a.host = val("hostaddr");
  if (a.host.empty()) a.host = env("PGHOST");
  if (a.host.empty()) a.host = "/var/run/postgresql";
  a.host = a.host.substr(0, a.host.find(','));
  if (a.host == "localhost") a.host = "127.0.0.1";
  a.port = val("port");
  if (a.port.empty()) a.port = env("PGPORT");
  if (a.port.empty()) a.port = "5432";
  a.port = a.port.substr(0, a.port.find(','));
  a.user = val("user");
  if (a.user.empty()) a.user = env("PGUSER");
  if (a.user.empty()) {
    if (const passwd* pw = getpwuid(geteuid())) a.user = pw->pw_name;
  }
  a.dbname = val("dbname");
  if (a.dbname.empty()) a.dbname = env("PGDATABASE");
  if (a.dbname.empty()) a.dbname = a.user;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o)
    if (std::string_view(o->keyword) == "password" && o->val != nullptr)
      secrets::register_secret(o->val);
  PQconninfoFree(opts);
  a.ok = true;
  return a;
}

class PgSession final : public db::Session {
 public:
  PgSession(PGconn* conn, std::string schema) : conn_(conn), schema_(std::move(schema)) {}
  ~PgSession() override { PQfinish(conn_); }

  PGconn* conn() const { return conn_; }

  Result<std::string> server_version() override {
    auto r = query("server version", "SHOW server_version");
    if (!r) return fail(r.error());
    return fmt::format("PostgreSQL {}", PQgetvalue(r->get(), 0, 0));
  }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto cols = query("describing the table",
                      "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                      "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                      {schema_, table});
    if (!cols) return fail(cols.error());
    const int n = PQntuples(cols->get());
    if (n == 0) return std::optional<TableShape>();
    TableShape shape;
    for (int i = 0; i < n; ++i)
      shape.columns.push_back({PQgetvalue(cols->get(), i, 0), PQgetvalue(cols->get(), i, 1),
                               std::string_view(PQgetvalue(cols->get(), i, 2)) == "YES"});
    auto key = query("reading the primary key",
                     "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                     "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = "
                     "format('%I.%I', $1::text, $2::text)::regclass AND i.indisprimary ORDER BY "
                     "array_position(i.indkey::int2[], a.attnum)",
                     {schema_, table});
    if (!key) return fail(key.error());
    for (int i = 0; i < PQntuples(key->get()); ++i)
      shape.key.push_back(PQgetvalue(key->get(), i, 0));
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      const auto& f = t.schema.fields[i];
      const bool key = std::find(t.key.begin(), t.key.end(), f.name) != t.key.end();
      defs.push_back(quote_ident(f.name) + " " + t.types[i] + (key ? " NOT NULL" : ""));
    }
    if (t.unique_key)
      defs.push_back("PRIMARY KEY (" + db::join_mapped(t.key, ", ", quote_ident) + ")");
    return ddl(t.name, fmt::format("CREATE TABLE IF NOT EXISTS {} ({})", qualified(t.name),
                                   fmt::join(defs, ", ")));
  }

  Result<void> add_column(const db::TableDesign& t, const Field& f,
                          const std::string& type) override {
    stage_checked_ = false;
    if (auto r = exec("dropping the stage table", "DROP TABLE IF EXISTS pg_temp._finsync_stage");
        !r)
      return r;
    return ddl(t.name, fmt::format("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}",
                                   qualified(t.name), quote_ident(f.name), type));
  }

  Result<void> create_markers() override {
    return ddl("_finsync_landed",
               fmt::format("CREATE TABLE IF NOT EXISTS {} (plan text NOT NULL, task_id text NOT "
                           "NULL, \"window\" text, page integer NOT NULL, \"rows\" bigint, "
                           "commit_id text, landed_at timestamp with time zone, PRIMARY KEY "
                           "(plan, task_id, page))",
                           qualified("_finsync_landed")));
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    auto exists = markers_exist();
    if (!exists) return fail(exists.error());
    if (!*exists) return out;
    auto r = query("reading landed markers",
                   fmt::format("SELECT task_id, sum(\"rows\")::bigint FROM {} WHERE plan = $1 "
                               "GROUP BY task_id",
                               qualified("_finsync_landed")),
                   {plan});
    if (!r) return fail(r.error());
    for (int i = 0; i < PQntuples(r->get()); ++i)
      out[PQgetvalue(r->get(), i, 0)] = std::strtoll(PQgetvalue(r->get(), i, 1), nullptr, 10);
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    auto exists = markers_exist();
    if (!exists || !*exists) return exists;
    auto r = query(
        "reading landed markers",
        fmt::format("SELECT 1 FROM {} WHERE commit_id = $1 LIMIT 1", qualified("_finsync_landed")),
        {commit_id});
    if (!r) return fail(r.error());
    return PQntuples(r->get()) > 0;
  }

  Result<void> begin() override {
    staged_ = false;
    stage_checked_ = false;
    return exec("BEGIN", "BEGIN");
  }

  Result<void> commit() override {
    auto r = query("COMMIT", "COMMIT");
    if (!r) return fail(r.error());
    // COMMIT of a transaction that failed answers ROLLBACK without an error.
    if (std::string_view(PQcmdStatus(r->get())) != "COMMIT")
      return fail(ErrorKind::permanent, "COMMIT: the transaction was rolled back");
    return {};
  }

  void rollback() override {
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE)
      PQclear(PQexec(conn_, "ROLLBACK"));
  }

  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    const int tc = t.field_index(t.time_column);
    const std::string col = quote_ident(t.time_column);
    const std::string day = tc >= 0 && t.schema.fields[tc].type == DataType::timestamp
                                ? "((" + col + " AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
                                : "(" + col + " - DATE '1970-01-01')";
    auto r =
        query("reading the landed days",
              db::landed_days_sql(
                  qualified(t.name),
                  symbol_column.empty() ? "''" : quote_ident(symbol_column) + "::text", day, col));
    if (!r) return fail(r.error());
    db::LandedDays out;
    for (int i = 0; i < PQntuples(r->get()); ++i)
      out[PQgetvalue(r->get(), i, 0)].push_back(
          int32_t(std::strtol(PQgetvalue(r->get(), i, 1), nullptr, 10)));
    return out;
  }

  Result<void> delete_all(const db::TableDesign& t) override {
    return exec("emptying the table (replace)", "DELETE FROM " + qualified(t.name));
  }

  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    std::string sql = "DELETE FROM " + qualified(t.name) + " WHERE true";
    std::vector<std::string> params;
    for (const auto& [col, value] : scope.equals) {
      params.push_back(value);
      sql += fmt::format(" AND {} = ${}", quote_ident(col), params.size());
    }
    if (!scope.time_column.empty()) {
      const int tc = t.field_index(scope.time_column);
      const std::string c = quote_ident(scope.time_column);
      if (tc >= 0 && t.schema.fields[tc].type == DataType::timestamp) {
        params.push_back(db::timestamp_text(int64_t(scope.first_day) * 86'400'000'000));
        params.push_back(db::timestamp_text(int64_t(scope.last_day + 1) * 86'400'000'000));
        sql += fmt::format(" AND {} >= ${} AND {} < ${}", c, params.size() - 1, c, params.size());
      } else {
        params.push_back(db::date_text(scope.first_day));
        params.push_back(db::date_text(scope.last_day));
        sql += fmt::format(" AND {} BETWEEN ${} AND ${}", c, params.size() - 1, params.size());
      }
    }
    auto r = query("deleting the task's rows (replace)", sql, params);
    if (!r) return fail(r.error());
    return {};
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    std::vector<std::string> cols;
    for (const auto& f : t.schema.fields) cols.push_back(f.name);
    const std::string list = db::join_mapped(cols, ", ", quote_ident);
    const std::string target = fmt::format("{} ({})", qualified(t.name), list);
    if (!t.unique_key) return copy_rows(target, b, begin, end, nullptr);
    // Upsert. While no key has been seen twice, a piece is COPY'd straight into the table under
    // a savepoint: a first backfill pays for one write per row, like a plain COPY. The first
    // piece that meets an existing key is rolled back to its savepoint and goes through the
    // stage table, as does every piece after it on this connection; finish_rows merges them.
    if (!conflicts_) {
      if (auto r = exec("COPY", "SAVEPOINT finsync_piece"); !r) return r;
      auto direct = copy_rows(target, b, begin, end, nullptr);
      if (direct) return exec("COPY", "RELEASE SAVEPOINT finsync_piece");
      if (sqlstate_ != "23505") return direct;
      if (auto r = exec("COPY", "ROLLBACK TO SAVEPOINT finsync_piece"); !r) return r;
      conflicts_ = true;
    }
    if (auto r = ensure_stage(t); !r) return r;
    staged_ = true;
    return copy_rows(fmt::format("{} ({}, _finsync_seq)", kStage, list), b, begin, end, &seq_);
  }

  Result<void> finish_rows(const db::TableDesign& t) override {
    if (!staged_) return {};
    staged_ = false;
    std::vector<std::string> cols;
    std::vector<std::string> sets;
    for (const auto& f : t.schema.fields) {
      cols.push_back(f.name);
      if (std::find(t.key.begin(), t.key.end(), f.name) == t.key.end())
        sets.push_back(quote_ident(f.name) + " = EXCLUDED." + quote_ident(f.name));
    }
    const std::string list = db::join_mapped(cols, ", ", quote_ident);
    const std::string key = db::join_mapped(t.key, ", ", quote_ident);
    const std::string action =
        sets.empty() ? "NOTHING" : fmt::format("UPDATE SET {}", fmt::join(sets, ", "));
    const std::string head = fmt::format("INSERT INTO {} ({}) ", qualified(t.name), list);
    const std::string tail = fmt::format(" ON CONFLICT ({}) DO {}", key, action);
    if (auto r = exec("merging", "SAVEPOINT finsync_merge"); !r) return r;
    auto merged = query("merging the stage table into the target",
                        head + fmt::format("SELECT {} FROM {}", list, kStage) + tail);
    if (merged) return exec("merging", "RELEASE SAVEPOINT finsync_merge");
    if (sqlstate_ != "21000") return fail(merged.error());
    // A key written twice in this landing: ON CONFLICT cannot touch a row twice in one
    // statement, so keep each key's last written row.
    if (auto r = exec("merging", "ROLLBACK TO SAVEPOINT finsync_merge"); !r) return r;
    auto dedup = query("merging the stage table into the target",
                       head +
                           fmt::format("SELECT DISTINCT ON ({}) {} FROM {} ORDER BY {}, "
                                       "_finsync_seq DESC",
                                       key, list, kStage, key) +
                           tail);
    if (!dedup) return fail(dedup.error());
    return exec("merging", "RELEASE SAVEPOINT finsync_merge");
  }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    if (markers.empty()) return {};
    std::vector<std::string> params;
    std::vector<std::string> rows;
    for (const auto& m : markers) {
      const size_t n = params.size();
      rows.push_back(
          fmt::format("(${}, ${}, ${}, ${}::integer, ${}::bigint, ${}, ${}::timestamptz)", n + 1,
                      n + 2, n + 3, n + 4, n + 5, n + 6, n + 7));
      params.push_back(m.plan);
      params.push_back(m.task_id);
      params.push_back(m.window);
      params.push_back(std::to_string(m.page));
      params.push_back(std::to_string(m.rows));
      params.push_back(m.commit_id);
      params.push_back(db::timestamp_text(
          std::chrono::duration_cast<std::chrono::microseconds>(m.landed_at.time_since_epoch())
              .count()));
    }
    auto r = query("writing landed markers",
                   fmt::format("INSERT INTO {} (plan, task_id, \"window\", page, \"rows\", "
                               "commit_id, landed_at) VALUES {} ON CONFLICT (plan, task_id, page) "
                               "DO UPDATE SET \"window\" = EXCLUDED.\"window\", \"rows\" = "
                               "EXCLUDED.\"rows\", commit_id = EXCLUDED.commit_id, landed_at = "
                               "EXCLUDED.landed_at",
                               qualified("_finsync_landed"), fmt::join(rows, ", ")),
                   params);
    if (!r) return fail(r.error());
    return {};
  }

  Result<void> exec(std::string_view what, const std::string& sql) {
    auto r = query(what, sql);
    if (!r) return fail(r.error());
    return {};
  }

  Result<PgResult> query(std::string_view what, const std::string& sql,
                         const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(params.empty() ? PQexec(conn_, sql.c_str())
                              : PQexecParams(conn_, sql.c_str(), int(values.size()), nullptr,
                                             values.data(), nullptr, nullptr, 0));
    const auto st = PQresultStatus(r.get());
    if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
      sqlstate_.clear();
      return r;
    }
    return fail(error(what, r.get()));
  }

 private:
  Error error(std::string_view what, const PGresult* res) {
    std::string msg;
    sqlstate_.clear();
    if (res != nullptr) {
      if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate_ = s;
      if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
      if (const char* d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
        msg += fmt::format(" ({})", d);
    }
    if (msg.empty()) msg = one_line(PQerrorMessage(conn_));
    ErrorKind kind = kind_of(sqlstate_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      kind = ErrorKind::transient;
      msg = "connection lost: " + msg;
    }
    return Error{kind, secrets::mask(fmt::format("{}: {}", what, msg)), std::nullopt};
  }

  std::string qualified(const std::string& table) const {
    return quote_ident(schema_) + "." + quote_ident(table);
  }

  // DDL in a transaction of its own under an advisory lock, so processes that open the same
  // table at once do not race on the catalog.
  Result<void> ddl(const std::string& table, const std::string& sql) {
    const std::string lock = fmt::format("finsync ddl {}.{}", schema_, table);
    std::string script =
        fmt::format("BEGIN; SELECT pg_advisory_xact_lock(hashtext({}));", quote_literal(lock));
    if (!schema_exists_) {
      auto s = query("reading the schema", "SELECT to_regnamespace($1) IS NOT NULL", {schema_});
      if (!s) return fail(s.error());
      if (std::string_view(PQgetvalue(s->get(), 0, 0)) != "t")
        script += fmt::format("CREATE SCHEMA IF NOT EXISTS {};", quote_ident(schema_));
      schema_exists_ = true;
    }
    script += sql + "; COMMIT";
    auto r = exec("creating or changing the table", script);
    if (!r) rollback();
    return r;
  }

  Result<bool> markers_exist() {
    auto r = query("reading landed markers", "SELECT to_regclass($1) IS NOT NULL",
                   {qualified("_finsync_landed")});
    if (!r) return fail(r.error());
    return std::string_view(PQgetvalue(r->get(), 0, 0)) == "t";
  }

  Result<void> ensure_stage(const db::TableDesign& t) {
    if (stage_checked_) return {};
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i)
      defs.push_back(quote_ident(t.schema.fields[i].name) + " " + t.types[i]);
    // ON COMMIT DELETE ROWS: every landing starts from an empty stage. A landing that rolls back
    // also rolls back a stage created inside it, so each landing that needs one says IF NOT
    // EXISTS.
    auto r = exec("creating the stage table",
                  fmt::format("CREATE TEMP TABLE IF NOT EXISTS _finsync_stage ({}, _finsync_seq "
                              "bigint) ON COMMIT DELETE ROWS",
                              fmt::join(defs, ", ")));
    if (!r) return r;
    stage_checked_ = true;
    return {};
  }

  Result<void> copy_rows(const std::string& into, const RecordBatch& b, size_t begin, size_t end,
                         int64_t* seq) {
    encoder_.clear();
    encoder_.header();
    encoder_.rows(b, begin, end, seq);
    encoder_.trailer();
    return copy_in(fmt::format("COPY {} FROM STDIN (FORMAT binary)", into), encoder_.data());
  }

  Result<void> copy_in(const std::string& sql, const std::string& data) {
    PgResult start(PQexec(conn_, sql.c_str()));
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) return fail(error("COPY", start.get()));
    if (PQputCopyData(conn_, data.data(), int(data.size())) != 1 ||
        PQputCopyEnd(conn_, nullptr) != 1) {
      // Drain the results so the connection state is known.
      while (PGresult* r = PQgetResult(conn_)) PQclear(r);
      return fail(error("COPY", nullptr));
    }
    Result<void> out;
    while (PGresult* raw = PQgetResult(conn_)) {
      PgResult r(raw);
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && out) out = fail(error("COPY", r.get()));
    }
    return out;
  }

  PGconn* conn_;
  std::string schema_;
  bool schema_exists_ = false;
  bool stage_checked_ = false;  // the stage table exists in this landing's transaction
  bool staged_ = false;
  bool conflicts_ = false;  // a key met an existing row: upserts go through the stage table
  int64_t seq_ = 0;
  CopyEncoder encoder_;
  std::string sqlstate_;  // of the last failed statement
};

class PgDriver final : public db::Driver {
 public:
  PgDriver(std::string dsn, std::string password, std::string schema)
      : dsn_(std::move(dsn)), password_(std::move(password)), schema_(std::move(schema)) {
    secrets::register_secret(password_);
    Address a = address_of(dsn_);
    where_ = a.ok
                 ? fmt::format("{}@{}:{}/{} (schema {})", a.user, a.host, a.port, a.dbname, schema_)
                 : "(invalid dsn)";
  }

  std::string_view kind() const override { return "postgres"; }
  std::string where() const override { return where_; }
  db::Capabilities capabilities() const override {
    return db::Capabilities{.transactions = true, .multi_writer = true, .non_finite_doubles = true};
  }
  std::string column_type(DataType t) const override {
    switch (t) {
      case DataType::int64:
        return "bigint";
      case DataType::float64:
        return "double precision";
      case DataType::string:
        return "text";
      case DataType::date:
        return "date";
      case DataType::timestamp:
        return "timestamp with time zone";
      case DataType::boolean:
        return "boolean";
    }
    return "text";
  }
  db::ValueLimits limits() const override {
    // date: 4713-11-24 BC (Julian day 0) .. 5874897-12-31; timestamptz from the same first day
    // to 294276 AD, beyond what 64-bit microseconds since 1970 reach.
    db::ValueLimits l;
    l.min_day = -2440588;
    l.max_day = 2145042906;
    l.min_micros = int64_t(l.min_day) * 86'400'000'000;
    l.date_range = "4714-11-24 BC..5874897-12-31";
    l.timestamp_range = "4714-11-24 BC..294276-12-31";
    return l;
  }
  int64_t default_batch_size() const override { return 50000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(dsn_.c_str(), &parse_error);
    if (parsed == nullptr) {
      std::string msg = parse_error != nullptr ? one_line(parse_error) : "out of memory";
      PQfreemem(parse_error);
      return fail(ErrorKind::invalid_input, secrets::mask("invalid dsn: " + msg));
    }
    PQconninfoFree(parsed);
    // Entries before dbname are defaults the dsn may override; the password after it overrides
    // the dsn's.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", "password", nullptr};
    const char* values[] = {"10", "finsync", dsn_.c_str(),
                            password_.empty() ? nullptr : password_.c_str(), nullptr};
    PGconn* c = PQconnectdbParams(keys, values, 1);
    if (c == nullptr) return fail(ErrorKind::internal, "connect: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
      const std::string msg = one_line(PQerrorMessage(c));
      const ErrorKind kind = connect_kind(c, msg);
      PQfinish(c);
      return fail(kind, secrets::mask("connect: " + msg));
    }
    PQsetNoticeProcessor(c, &drop_notice, nullptr);
    auto s = std::make_unique<PgSession>(c, schema_);
    // Rows of a landing stay in the session's temp buffers before the merge.
    if (auto r = s->exec("setting up the session", "SET temp_buffers = '64MB'"); !r)
      return fail(r.error());
    return std::unique_ptr<db::Session>(std::move(s));
  }

 private:
  std::string dsn_, password_, schema_, where_;
};

}  // namespace

void register_postgres_sink(SinkRegistry& registry) {
  registry.add("postgres",
               [](const SinkSpec& spec, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
                 if (auto k = check_keys(spec, {"dsn", "password", "schema", "replace",
                                                "batch_size", "schema_drift", "max_retries"});
                     !k)
                   return fail(k.error());
                 if (spec.dsn.empty())
                   return fail(missing(spec, "dsn", "a dsn (postgresql://user@host:port/db)"));
                 auto driver = std::make_unique<PgDriver>(spec.dsn, spec.password,
                                                          option_or(spec, "schema", "public"));
                 auto s = db::make_db_sink(std::move(driver), spec);
                 if (!s) return fail(s.error());
                 return std::unique_ptr<Sink>(std::move(*s));
               });
}

bool same_database(const std::string& a, const std::string& b) {
  const Address x = address_of(a), y = address_of(b);
  return x.ok && y.ok && x.host == y.host && x.port == y.port && x.dbname == y.dbname;
}

bool set_task_writer(Sink& sink, TaskWriter writer) {
  auto* db_sink = dynamic_cast<db::DbSink*>(&sink);
  if (db_sink == nullptr || db_sink->driver().kind() != "postgres") return false;
  db_sink->set_checkpoint_writer(
      [writer = std::move(writer)](db::Session& s, std::span<const Checkpoint> cps) {
        // Sessions of the postgres driver are PgSessions.
        return writer(static_cast<PgSession&>(s).conn(), cps);
      });
  return true;
}

}  // namespace finsync::sink::postgres
