#include "sink/mysql/my_sink.hpp"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "sink/db/db_sink.hpp"
#include "sink/db/value_text.hpp"
#include "sink/mysql/my_dsn.hpp"
#include "sink/mysql/my_text.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::mysql {

namespace {

constexpr const char* kMarkers = "`_finsync_landed`";
constexpr const char* kStage = "`_finsync_stage`";
// The file name LOAD DATA asks the client for: the rows of the current piece, never a file.
constexpr const char* kStream = "finsync-rows";
// Strict for every engine (a value that does not fit is an error, not a warning), no zero dates,
// no silent engine substitution. Backslash escapes stay on: LOAD DATA lines and INSERT literals
// are written for them.
constexpr const char* kSession =
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', SESSION time_zone = '+00:00'";
// Keys compare byte for byte (utf8mb4_bin), so 'abc' and 'ABC' are two keys.
constexpr const char* kTableOptions = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";
// MySQL 8's "Loading local data is disabled" (MariaDB: ER_LOAD_INFILE_CAPABILITY_DISABLED, or
// ER_NOT_ALLOWED_COMMAND before 10.6).
constexpr unsigned kMysqlLocalFilesDisabled = 3948;

enum class Load { infile, insert };

bool connection_lost(unsigned code) {
  return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST ||
         code == CR_SERVER_LOST_EXTENDED || code == CR_ERR_NET_READ || code == CR_ERR_NET_WRITE;
}

// By error number: what to do about a failed statement.
ErrorKind kind_of(unsigned code) {
  if (connection_lost(code)) return ErrorKind::transient;
  switch (code) {
    case ER_CON_COUNT_ERROR:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_QUERY_INTERRUPTED:
    case ER_NEW_ABORTING_CONNECTION:
    case ER_NET_READ_INTERRUPTED:
    case ER_NET_ERROR_ON_WRITE:
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK:
      return ErrorKind::transient;
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
      return ErrorKind::auth;
    case ER_BAD_DB_ERROR:
    case ER_BAD_NULL_ERROR:
    case ER_DUP_ENTRY:
    case ER_WARN_NULL_TO_NOTNULL:
    case ER_WARN_DATA_OUT_OF_RANGE:
    case WARN_DATA_TRUNCATED:
    case ER_TRUNCATED_WRONG_VALUE:
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_ILLEGAL_VALUE_FOR_TYPE:
    case ER_DATA_TOO_LONG:
    case ER_ROW_IS_REFERENCED_2:
    case ER_NO_REFERENCED_ROW_2:
    case ER_CONSTRAINT_FAILED:
      return ErrorKind::invalid_input;
    default:
      return ErrorKind::permanent;
  }
}

// Connection failures: refused or unresolvable is `unreachable` (the framework waits for a
// server that answered before), a server starting or stopping is transient.
ErrorKind connect_kind(unsigned code) {
  switch (code) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
    case ER_HOST_NOT_PRIVILEGED:
    case ER_HOST_IS_BLOCKED:
      return ErrorKind::auth;
    case ER_BAD_DB_ERROR:
      return ErrorKind::invalid_input;
    case ER_CON_COUNT_ERROR:
    case ER_SERVER_SHUTDOWN:
    case CR_SERVER_LOST:
    case CR_SERVER_GONE_ERROR:
      return ErrorKind::transient;
    default:
      return ErrorKind::unreachable;
  }
}

bool is_key(const db::TableDesign& t, const std::string& column) {
  return std::find(t.key.begin(), t.key.end(), column) != t.key.end();
}

std::string column_list(const db::TableDesign& t) {
  std::vector<std::string> cols;
  for (const auto& f : t.schema.fields) cols.push_back(f.name);
  return db::join_mapped(cols, ", ", quote_name);
}

// "ON DUPLICATE KEY UPDATE c = VALUES(c), ..." over the non-key columns; a table of key columns
// only has nothing to update and keeps its row.
std::string on_duplicate(const db::TableDesign& t) {
  std::vector<std::string> sets;
  for (const auto& f : t.schema.fields)
    if (!is_key(t, f.name)) sets.push_back(fmt::format("{0} = VALUES({0})", quote_name(f.name)));
  if (sets.empty()) sets.push_back(fmt::format("{0} = {0}", quote_name(t.key.front())));
  return fmt::format(" ON DUPLICATE KEY UPDATE {}", fmt::join(sets, ", "));
}

using Rows = std::vector<std::vector<std::optional<std::string>>>;

class MySession final : public db::Session {
 public:
  MySession(MYSQL* my, Load load) : my_(my), load_(load) {
    mysql_set_local_infile_handler(my_, &infile_init, &infile_read, &infile_end, &infile_error,
                                   this);
  }
  ~MySession() override { mysql_close(my_); }

  Result<void> set_up() {
    if (auto r = exec("setting up the session", kSession); !r) return r;
    auto packet = query("reading max_allowed_packet", "SELECT @@max_allowed_packet");
    if (!packet) return fail(packet.error());
    const int64_t max_packet = std::strtoll(cell(*packet, 0, 0).c_str(), nullptr, 10);
    // An INSERT statement must fit in one packet; 4 MiB statements already amortize a round
    // trip over tens of thousands of rows.
    statement_cap_ = size_t(std::clamp<int64_t>(max_packet - 4096, 64 * 1024, 4 << 20));
    return {};
  }

  Result<std::string> server_version() override {
    std::string info = mysql_get_server_info(my_);
    const size_t at = info.find("-MariaDB");
    if (at != std::string::npos) return "MariaDB " + info.erase(at, 8);
    return "MySQL " + info;
  }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto cols =
        query("describing the table",
              "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
              "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = " +
                  literal(table) + " ORDER BY ORDINAL_POSITION");
    if (!cols) return fail(cols.error());
    if (cols->empty()) return std::optional<TableShape>();
    TableShape shape;
    for (size_t i = 0; i < cols->size(); ++i)
      shape.columns.push_back({cell(*cols, i, 0), cell(*cols, i, 1), cell(*cols, i, 2) == "YES"});
    auto key = query("reading the primary key",
                     "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
                     "DATABASE() AND TABLE_NAME = " +
                         literal(table) + " AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX");
    if (!key) return fail(key.error());
    for (size_t i = 0; i < key->size(); ++i) shape.key.push_back(cell(*key, i, 0));
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i) {
      const auto& f = t.schema.fields[i];
      defs.push_back(quote_name(f.name) + " " + t.types[i] +
                     (is_key(t, f.name) ? " NOT NULL" : ""));
    }
    if (t.unique_key)
      defs.push_back("PRIMARY KEY (" + db::join_mapped(t.key, ", ", quote_name) + ")");
    return exec("creating the table",
                fmt::format("CREATE TABLE IF NOT EXISTS {} ({}) {}", quote_name(t.name),
                            fmt::join(defs, ", "), kTableOptions));
  }

  Result<void> add_column(const db::TableDesign& t, const Field& f,
                          const std::string& type) override {
    plain_table_.reset();
    if (auto r = drop_stage(); !r) return r;
    auto r = exec("adding a column", fmt::format("ALTER TABLE {} ADD COLUMN {} {}",
                                                 quote_name(t.name), quote_name(f.name), type));
    // Another process opening the same table added it first.
    if (!r && last_error_ == ER_DUP_FIELDNAME) return {};
    return r;
  }

  Result<void> create_markers() override {
    // plan and task_id fit InnoDB's 3072-byte key in utf8mb4 (4 bytes a character).
    return exec("creating _finsync_landed",
                fmt::format("CREATE TABLE IF NOT EXISTS {} (plan varchar(191) NOT NULL, task_id "
                            "varchar(512) NOT NULL, `window` varchar(191), page int NOT NULL, "
                            "`rows` bigint, commit_id varchar(64), landed_at datetime(6), "
                            "PRIMARY KEY (plan, task_id, page), KEY (commit_id)) {}",
                            kMarkers, kTableOptions));
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    std::map<std::string, int64_t> out;
    auto exists = markers_exist();
    if (!exists) return fail(exists.error());
    if (!*exists) return out;
    auto r = query("reading landed markers",
                   fmt::format("SELECT task_id, CAST(SUM(`rows`) AS SIGNED) FROM {} WHERE plan = "
                               "{} GROUP BY task_id",
                               kMarkers, literal(plan)));
    if (!r) return fail(r.error());
    for (size_t i = 0; i < r->size(); ++i)
      out[cell(*r, i, 0)] = std::strtoll(cell(*r, i, 1).c_str(), nullptr, 10);
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    auto exists = markers_exist();
    if (!exists || !*exists) return exists;
    auto r = query(
        "reading landed markers",
        fmt::format("SELECT 1 FROM {} WHERE commit_id = {} LIMIT 1", kMarkers, literal(commit_id)));
    if (!r) return fail(r.error());
    return !r->empty();
  }

  Result<void> begin() override {
    staged_ = false;
    return exec("START TRANSACTION", "START TRANSACTION");
  }

  Result<void> commit() override { return exec("COMMIT", "COMMIT"); }

  void rollback() override { (void)mysql_real_query(my_, "ROLLBACK", 8); }

  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    // DATETIME(6) holds UTC, so its day is the UTC day.
    const std::string col = quote_name(t.time_column);
    auto r =
        query("reading the landed days",
              db::landed_days_sql(
                  quote_name(t.name),
                  symbol_column.empty() ? "''" : "CAST(" + quote_name(symbol_column) + " AS CHAR)",
                  "DATEDIFF(" + col + ", '1970-01-01')", col));
    if (!r) return fail(r.error());
    db::LandedDays out;
    for (size_t i = 0; i < r->size(); ++i)
      out[cell(*r, i, 0)].push_back(int32_t(std::strtol(cell(*r, i, 1).c_str(), nullptr, 10)));
    return out;
  }

  Result<void> delete_all(const db::TableDesign& t) override {
    // DELETE, not TRUNCATE: TRUNCATE commits on its own, readers would see an empty table.
    return exec("emptying the table (replace)", "DELETE FROM " + quote_name(t.name));
  }

  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    std::string sql = "DELETE FROM " + quote_name(t.name) + " WHERE 1 = 1";
    for (const auto& [col, value] : scope.equals)
      sql += fmt::format(" AND {} = {}", quote_name(col), literal(value));
    if (!scope.time_column.empty()) {
      const int tc = t.field_index(scope.time_column);
      const std::string c = quote_name(scope.time_column);
      if (tc >= 0 && t.schema.fields[tc].type == DataType::timestamp) {
        sql += fmt::format(" AND {0} >= '{1} 00:00:00' AND {0} < '{2} 00:00:00'", c,
                           db::date_text(scope.first_day), db::date_text(scope.last_day + 1));
      } else {
        sql += fmt::format(" AND {} BETWEEN '{}' AND '{}'", c, db::date_text(scope.first_day),
                           db::date_text(scope.last_day));
      }
    }
    return exec("deleting the task's rows (replace)", sql);
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                          size_t end) override {
    if (load_ == Load::insert) return insert_rows(t, b, begin, end);
    const std::string table = quote_name(t.name), cols = column_list(t);
    if (!t.unique_key) return load_rows(table, cols, b, begin, end, "");
    // Upsert. REPLACE overwrites the row of a key that exists and keeps a key's last line, one
    // write per row whether the key is new or not. It is an upsert only in a plain table
    // (replace_is_upsert); any other takes the stage table, whose merge sets the plan's columns
    // of existing rows and deletes nothing.
    auto plain = replace_is_upsert(t);
    if (!plain) return fail(plain.error());
    if (*plain) return load_rows(table, cols, b, begin, end, "REPLACE ");
    if (auto r = ensure_stage(t); !r) return r;
    staged_ = true;
    return load_rows(kStage, cols, b, begin, end, "");
  }

  Result<void> finish_rows(const db::TableDesign& t) override {
    if (!staged_) return {};
    staged_ = false;
    const std::string list = column_list(t);
    // In write order, so that a key staged twice keeps its last row.
    auto merged = exec("merging the stage table into the target",
                       fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY _finsync_seq{}",
                                   quote_name(t.name), list, list, kStage, on_duplicate(t)));
    if (!merged) return merged;
    return drop_stage();
  }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    if (markers.empty()) return {};
    std::vector<std::string> rows;
    char at[40];
    for (const auto& m : markers) {
      const int64_t us =
          std::chrono::duration_cast<std::chrono::microseconds>(m.landed_at.time_since_epoch())
              .count();
      char* e = format_datetime(us, at);
      rows.push_back(fmt::format("({}, {}, {}, {}, {}, {}, '{}')", literal(m.plan),
                                 literal(m.task_id), literal(m.window), m.page, m.rows,
                                 literal(m.commit_id), std::string_view(at, size_t(e - at))));
    }
    return exec("writing landed markers",
                fmt::format("INSERT INTO {} (plan, task_id, `window`, page, `rows`, commit_id, "
                            "landed_at) VALUES {} ON DUPLICATE KEY UPDATE `window` = "
                            "VALUES(`window`), `rows` = VALUES(`rows`), commit_id = "
                            "VALUES(commit_id), landed_at = VALUES(landed_at)",
                            kMarkers, fmt::join(rows, ", ")));
  }

  Result<void> exec(std::string_view what, std::string_view sql) {
    if (mysql_real_query(my_, sql.data(), sql.size()) != 0) return fail(error(what));
    if (MYSQL_RES* r = mysql_store_result(my_)) {
      mysql_free_result(r);
    } else if (mysql_field_count(my_) != 0) {
      return fail(error(what));
    }
    last_error_ = 0;
    return {};
  }

  Result<Rows> query(std::string_view what, const std::string& sql) {
    if (mysql_real_query(my_, sql.data(), sql.size()) != 0) return fail(error(what));
    MYSQL_RES* res = mysql_store_result(my_);
    if (res == nullptr) {
      if (mysql_field_count(my_) != 0) return fail(error(what));
      return Rows{};
    }
    Rows out;
    const unsigned n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const unsigned long* len = mysql_fetch_lengths(res);
      auto& r = out.emplace_back();
      for (unsigned i = 0; i < n; ++i)
        r.push_back(row[i] != nullptr ? std::optional<std::string>(std::in_place, row[i], len[i])
                                      : std::nullopt);
    }
    mysql_free_result(res);
    last_error_ = 0;
    return out;
  }

 private:
  static std::string cell(const Rows& rows, size_t r, size_t c) { return rows[r][c].value_or(""); }

  Error error(std::string_view what) {
    last_error_ = mysql_errno(my_);
    std::string msg = mysql_error(my_);
    if (connection_lost(last_error_)) msg = "connection lost: " + msg;
    return Error{kind_of(last_error_),
                 secrets::mask(fmt::format("{}: {} (error {})", what, msg, last_error_)),
                 std::nullopt};
  }

  // 'text' escaped by the client library for the connection's character set (utf8mb4).
  std::string literal(std::string_view text) {
    std::string out(text.size() * 2 + 2, '\0');
    out[0] = '\'';
    const unsigned long n = mysql_real_escape_string(my_, out.data() + 1, text.data(), text.size());
    out.resize(n + 1);
    return out + "'";
  }

  Result<bool> markers_exist() {
    auto r = query("reading the schema",
                   "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
                   "TABLE_NAME = '_finsync_landed'");
    if (!r) return fail(r.error());
    return !r->empty();
  }

  // A temporary table of the landing's rows with their write order. CREATE and DROP TEMPORARY
  // TABLE do not end the transaction; its rows roll back with it.
  Result<void> ensure_stage(const db::TableDesign& t) {
    if (stage_ready_) return {};
    std::vector<std::string> defs;
    for (size_t i = 0; i < t.schema.fields.size(); ++i)
      defs.push_back(quote_name(t.schema.fields[i].name) + " " + t.types[i]);
    auto r = exec("creating the stage table",
                  fmt::format("CREATE TEMPORARY TABLE IF NOT EXISTS {} ({}, _finsync_seq bigint "
                              "NOT NULL AUTO_INCREMENT PRIMARY KEY) {}",
                              kStage, fmt::join(defs, ", "), kTableOptions));
    if (!r) return r;
    stage_ready_ = true;
    return {};
  }

  Result<void> drop_stage() {
    stage_ready_ = false;
    return exec("dropping the stage table",
                fmt::format("DROP TEMPORARY TABLE IF EXISTS {}", kStage));
  }

  // LOAD DATA LOCAL INFILE of rows [begin, end) into `table` (`columns`, quoted), streamed from
  // the batch by the infile callbacks; `how` is "" or "REPLACE ". A warning is an error: with
  // LOCAL the server turns a value it cannot store into a warning and stores something else.
  Result<void> load_rows(std::string_view table, const std::string& columns, const RecordBatch& b,
                         size_t begin, size_t end, std::string_view how) {
    stream_ = Stream{&b, begin, end};
    pending_.clear();
    pending_at_ = 0;
    stream_error_.clear();
    const std::string sql =
        fmt::format("LOAD DATA LOCAL INFILE '{}' {}INTO TABLE {} CHARACTER SET utf8mb4 {} ({})",
                    kStream, how, table, load_format_clause(), columns);
    const int rc = mysql_real_query(my_, sql.data(), sql.size());
    stream_ = Stream{};
    if (rc != 0) {
      Error e = error("loading rows");
      if (last_error_ == ER_NOT_ALLOWED_COMMAND || last_error_ == kMysqlLocalFilesDisabled ||
          last_error_ == ER_LOAD_INFILE_CAPABILITY_DISABLED)
        e.message +=
            "; the server refuses LOAD DATA LOCAL INFILE: turn local_infile on there (SET GLOBAL "
            "local_infile = 1) or set `load: insert` in the sink block";
      return fail(e);
    }
    last_error_ = 0;
    const unsigned warnings = mysql_warning_count(my_);
    if (warnings == 0) return {};
    auto w = query("reading the warnings of LOAD DATA", "SHOW WARNINGS LIMIT 3");
    if (!w) return fail(w.error());
    std::vector<std::string> lines;
    for (size_t i = 0; i < w->size(); ++i)
      lines.push_back(fmt::format("{} {}: {}", cell(*w, i, 0), cell(*w, i, 1), cell(*w, i, 2)));
    return fail(ErrorKind::invalid_input,
                fmt::format("loading rows {}..{} of the batch: the server did not store {} "
                            "value(s) as sent: {}",
                            begin + 1, end, warnings, fmt::join(lines, "; ")));
  }

  // Whether REPLACE is an upsert on this table: it rewrites whole rows, so a column the plan
  // does not write would lose its value; with another unique key it would delete the rows that
  // one matches; and where it deletes and inserts instead of updating in place (a foreign key
  // points at the table) or triggers watch the table, it would cascade or fire them. Asked once
  // per connection, and again after add_column.
  Result<bool> replace_is_upsert(const db::TableDesign& t) {
    if (plain_table_) return *plain_table_;
    const std::string name = literal(t.name);
    auto r = query(
        "describing the table",
        fmt::format("SELECT (SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME = {0}), (SELECT count(*) FROM "
                    "information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME "
                    "= {0} AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY') + (SELECT count(*) "
                    "FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                    "UNIQUE_CONSTRAINT_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = {0}) + "
                    "(SELECT count(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA "
                    "= DATABASE() AND EVENT_OBJECT_TABLE = {0})",
                    name));
    if (!r) return fail(r.error());
    plain_table_ =
        cell(*r, 0, 0) == std::to_string(t.schema.fields.size()) && cell(*r, 0, 1) == "0";
    return *plain_table_;
  }

  Result<void> insert_rows(const db::TableDesign& t, const RecordBatch& b, size_t begin,
                           size_t end) {
    const std::string head =
        fmt::format("INSERT INTO {} ({}) VALUES ", quote_name(t.name), column_list(t));
    const std::string tail = t.unique_key ? on_duplicate(t) : "";
    std::string sql;
    std::string escaped;
    size_t first = begin;
    for (size_t r = begin; r < end; ++r) {
      if (sql.empty()) {
        sql = head;
        first = r;
      } else {
        sql += ", ";
      }
      sql += '(';
      for (size_t c = 0; c < b.num_columns(); ++c) {
        if (c) sql += ", ";
        const Column& col = b.column(c);
        if (append_literal(col, r, sql)) continue;
        const std::string& s = col.string_at(r);
        escaped.resize(s.size() * 2 + 1);
        escaped.resize(mysql_real_escape_string(my_, escaped.data(), s.data(), s.size()));
        sql += '\'';
        sql += escaped;
        sql += '\'';
      }
      sql += ')';
      if (sql.size() + tail.size() >= statement_cap_ || r + 1 == end) {
        sql += tail;
        if (auto x = exec(fmt::format("inserting rows {}..{} of the batch", first + 1, r + 1), sql);
            !x)
          return x;
        sql.clear();
      }
    }
    return {};
  }

  // The rows of the LOAD DATA under way, fed to the server by the callbacks below.
  struct Stream {
    const RecordBatch* batch = nullptr;
    size_t next = 0, end = 0;
  };

  static int infile_init(void** ptr, const char* filename, void* self) {
    auto* s = static_cast<MySession*>(self);
    *ptr = s;
    // Only the rows this session is loading: a server asking for another file gets nothing.
    if (s->stream_.batch == nullptr || std::strcmp(filename, kStream) != 0) {
      s->stream_error_ = fmt::format(
          "the server asked for the file '{}', which finsync does not "
          "send",
          filename);
      return 1;
    }
    return 0;
  }

  static int infile_read(void* ptr, char* buf, unsigned int len) {
    auto* s = static_cast<MySession*>(ptr);
    unsigned int out = 0;
    while (out < len) {
      if (s->pending_at_ == s->pending_.size()) {
        s->pending_.clear();
        s->pending_at_ = 0;
        Stream& st = s->stream_;
        while (st.next < st.end && s->pending_.size() < 64 * 1024)
          append_load_line(*st.batch, st.next++, s->pending_);
        if (s->pending_.empty()) break;
      }
      const size_t n = std::min<size_t>(len - out, s->pending_.size() - s->pending_at_);
      std::memcpy(buf + out, s->pending_.data() + s->pending_at_, n);
      s->pending_at_ += n;
      out += unsigned(n);
    }
    return int(out);
  }

  static void infile_end(void*) {}

  static int infile_error(void* ptr, char* msg, unsigned int len) {
    auto* s = static_cast<MySession*>(ptr);
    std::snprintf(msg, len, "%s", s->stream_error_.c_str());
    return CR_UNKNOWN_ERROR;
  }

  MYSQL* my_;
  Load load_;
  size_t statement_cap_ = 1 << 20;
  std::optional<bool> plain_table_;  // replace_is_upsert, once asked
  bool stage_ready_ = false;         // the stage table exists with the table's columns
  bool staged_ = false;              // this landing put rows in the stage table
  unsigned last_error_ = 0;          // error number of the last failed statement
  Stream stream_;
  std::string pending_;  // encoded lines not yet handed to the client library
  size_t pending_at_ = 0;
  std::string stream_error_;
};

class MyDriver final : public db::Driver {
 public:
  MyDriver(std::string kind, const std::string& dsn, const std::string& password, Load load)
      : kind_(std::move(kind)), load_(load) {
    secrets::register_secret(password);
    auto parsed = parse_dsn(dsn);
    if (parsed) {
      dsn_ = std::move(*parsed);
      if (!password.empty()) dsn_.password = password;
      where_ = dsn_.where();
    } else {
      dsn_error_ = parsed.error();
      where_ = "(invalid dsn)";
    }
  }

  std::string_view kind() const override { return kind_; }
  std::string where() const override { return where_; }
  db::Capabilities capabilities() const override {
    // DOUBLE holds no NaN or infinity.
    return db::Capabilities{
        .transactions = true, .multi_writer = true, .non_finite_doubles = false};
  }
  std::string column_type(DataType t) const override {
    switch (t) {
      case DataType::int64:
        return "bigint";
      case DataType::float64:
        return "double";
      case DataType::string:
        return "text";
      case DataType::date:
        return "date";
      case DataType::timestamp:
        return "datetime(6)";
      case DataType::boolean:
        return "tinyint(1)";
    }
    return "text";
  }
  // An index holds bounded values: 191 characters of utf8mb4 (764 bytes) let four string key
  // columns fit InnoDB's 3072-byte key.
  std::string key_column_type(DataType t) const override {
    return t == DataType::string ? "varchar(191)" : column_type(t);
  }
  // MariaDB (and MySQL before 8.0.19) reports bigint with its display width.
  bool same_type(std::string_view expected, std::string_view found) const override {
    std::string f(found);
    if (f.rfind("bigint(", 0) == 0 && f.back() == ')') f = "bigint";
    return same_type_ignoring_case(expected, f);
  }
  db::ValueLimits limits() const override {
    db::ValueLimits l;
    l.min_day = dates::days_from_civil(1000, 1, 1);
    l.max_day = dates::days_from_civil(9999, 12, 31);
    l.min_micros = int64_t(l.min_day) * 86'400'000'000;
    l.max_micros = int64_t(l.max_day + 1) * 86'400'000'000 - 1;
    l.date_range = "1000-01-01..9999-12-31";
    l.timestamp_range = "1000-01-01 00:00:00..9999-12-31 23:59:59.999999 UTC";
    return l;
  }
  int64_t default_batch_size() const override { return 50000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    if (dsn_error_) return fail(ErrorKind::invalid_input, "invalid dsn: " + dsn_error_->message);
    static std::once_flag once;
    std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
    MYSQL* my = mysql_init(nullptr);
    if (my == nullptr) return fail(ErrorKind::internal, "connect: out of memory");
    const unsigned timeout = dsn_.connect_timeout;
    const unsigned local_infile = load_ == Load::infile ? 1 : 0;
    // A reconnect inside the library would silently lose the open transaction; the framework
    // reconnects and re-runs the landing instead.
    const my_bool reconnect = 0;
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(my, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    mysql_options(my, MYSQL_OPT_RECONNECT, &reconnect);
    mysql_options(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const char* socket = dsn_.socket.empty() ? nullptr : dsn_.socket.c_str();
    if (mysql_real_connect(my, dsn_.host.c_str(), dsn_.user.c_str(), dsn_.password.c_str(),
                           dsn_.database.c_str(), dsn_.port, socket, 0) == nullptr) {
      const unsigned code = mysql_errno(my);
      const std::string msg = mysql_error(my);
      mysql_close(my);
      return fail(connect_kind(code),
                  secrets::mask(fmt::format("connect: {} (error {})", msg, code)));
    }
    auto s = std::make_unique<MySession>(my, load_);
    if (auto r = s->set_up(); !r) return fail(r.error());
    return std::unique_ptr<db::Session>(std::move(s));
  }

 private:
  std::string kind_;
  Load load_;
  Dsn dsn_;
  std::optional<Error> dsn_error_;
  std::string where_;
};

}  // namespace

void register_mysql_sink(SinkRegistry& registry) {
  for (std::string kind : {"mysql", "mariadb"})
    registry.add(
        kind, [kind](const SinkSpec& spec, const SinkContext&) -> Result<std::unique_ptr<Sink>> {
          if (auto k = check_keys(spec, {"dsn", "password", "load", "replace", "batch_size",
                                         "schema_drift", "max_retries"});
              !k)
            return fail(k.error());
          if (spec.dsn.empty())
            return fail(missing(spec, "dsn", "a dsn (mysql://user@host:3306/database)"));
          auto load = option_choice(spec, "load", {"infile", "insert"}, "infile");
          if (!load) return fail(load.error());
          auto driver = std::make_unique<MyDriver>(kind, spec.dsn, spec.password,
                                                   *load == "insert" ? Load::insert : Load::infile);
          auto s = db::make_db_sink(std::move(driver), spec);
          if (!s) return fail(s.error());
          return std::unique_ptr<Sink>(std::move(*s));
        });
}

}  // namespace finsync::sink::mysql
