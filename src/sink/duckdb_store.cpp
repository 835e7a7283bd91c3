#include "sink/duckdb_store.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <system_error>

namespace finsync::sink::duck {

namespace fs = std::filesystem;

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

Error duckdb_error(duckdb_error_type type, std::string_view message) {
  ErrorKind kind = type == DUCKDB_ERROR_TRANSACTION ? ErrorKind::transient : ErrorKind::permanent;
  return Error{kind, std::string(message), std::nullopt};
}

Error store_in_use_error(const std::string& path, std::string_view msg) {
  // DuckDB: `Could not set lock on file "x": Conflicting lock is held in /usr/bin/prog (PID 42).`
  std::string holder;
  if (auto at = msg.find("is held in "); at != std::string_view::npos) {
    auto rest = msg.substr(at + 11);
    auto pid = rest.find(" (PID ");
    auto end = rest.find(')', pid == std::string_view::npos ? 0 : pid);
    if (pid != std::string_view::npos && end != std::string_view::npos)
      holder =
          fmt::format(" (pid {}, {})", rest.substr(pid + 6, end - pid - 6), rest.substr(0, pid));
  }
  // Transient: the holder finishes, and `finsync run` waits for it.
  return Error{ErrorKind::transient,
               fmt::format("the DuckDB store {} is in use by another finsync process{}: a DuckDB "
                           "file has one writer; wait for that run to finish or stop it",
                           path, holder),
               std::nullopt};
}

namespace {

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, std::weak_ptr<Database>>& cache() {
  static std::map<std::string, std::weak_ptr<Database>> c;
  return c;
}

// A store whose last reference is gone but whose destructor has not closed it yet is still open:
// open() waits for that close before opening the file again.
std::condition_variable& closed_cv() {
  static std::condition_variable cv;
  return cv;
}

}  // namespace

Result<std::shared_ptr<Database>> Database::open(const std::string& path_in) {
  if (path_in.empty()) return fail(ErrorKind::invalid_input, "the DuckDB store path is empty");
  std::error_code ec;
  fs::path p = fs::absolute(path_in, ec);
  if (ec)
    return fail(ErrorKind::invalid_input,
                fmt::format("the DuckDB store path {} is invalid: {}", path_in, ec.message()));
  p = p.lexically_normal();
  const std::string key = p.string();

  std::unique_lock lk(cache_mutex());
  for (;;) {
    auto it = cache().find(key);
    if (it == cache().end()) break;
    if (auto db = it->second.lock()) return db;
    closed_cv().wait(lk);  // expired but not closed yet
  }
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec)
      return fail(ErrorKind::permanent,
                  fmt::format("cannot create the directory of {}: {}", key, ec.message()));
  }
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess)
    return fail(ErrorKind::internal, "duckdb_create_config failed");
  // Sinks run many small transactions (a few thousand rows each); DuckDB's parallel scheduler
  // costs more than it gains there (measured: 2 threads used ~1.7x the CPU of 1 on 2 cores).
  // FINSYNC_DUCKDB_THREADS overrides the default of 1.
  const char* threads = std::getenv("FINSYNC_DUCKDB_THREADS");
  duckdb_set_config(config, "threads", threads && *threads ? threads : "1");
  // DuckDB's own default (80% of RAM) lets its buffer pool grow with the staged rows: 4.2 GB for
  // 10,000,000 rows. Beyond the limit it spills to the file's .tmp directory.
  const char* mem = std::getenv("FINSYNC_DUCKDB_MEMORY_LIMIT");
  duckdb_set_config(config, "memory_limit", mem && *mem ? mem : "128MB");
  duckdb_database db = nullptr;
  char* err = nullptr;
  duckdb_state st = duckdb_open_ext(key.c_str(), &db, config, &err);
  duckdb_destroy_config(&config);
  if (st != DuckDBSuccess) {
    std::string msg = err ? err : "unknown error";
    duckdb_free(err);
    if (msg.find("Could not set lock") != std::string::npos ||
        msg.find("Conflicting lock") != std::string::npos)
      return fail(store_in_use_error(key, msg));
    return fail(ErrorKind::permanent, fmt::format("cannot open the DuckDB store {}: {}", key, msg));
  }
  std::shared_ptr<Database> out(new Database(key, db));
  cache()[key] = out;
  return out;
}

Database::~Database() {
  std::lock_guard lk(cache_mutex());
  duckdb_close(&db_);
  cache().erase(path_);
  closed_cv().notify_all();
}

QueryResult::~QueryResult() {
  if (valid_) duckdb_destroy_result(&res_);
}

QueryResult::QueryResult(QueryResult&& o) noexcept : res_(o.res_), valid_(o.valid_) {
  o.valid_ = false;
}

QueryResult& QueryResult::operator=(QueryResult&& o) noexcept {
  if (this != &o) {
    if (valid_) duckdb_destroy_result(&res_);
    res_ = o.res_;
    valid_ = o.valid_;
    o.valid_ = false;
  }
  return *this;
}

size_t QueryResult::rows() {
  return valid_ ? duckdb_row_count(&res_) : 0;
}
size_t QueryResult::columns() {
  return valid_ ? duckdb_column_count(&res_) : 0;
}
bool QueryResult::is_null(size_t col, size_t row) {
  return duckdb_value_is_null(&res_, col, row);
}

std::optional<std::string> QueryResult::string_at(size_t col, size_t row) {
  if (duckdb_value_is_null(&res_, col, row)) return std::nullopt;
  char* v = duckdb_value_varchar(&res_, col, row);
  std::string out = v ? v : "";
  duckdb_free(v);
  return out;
}

int64_t QueryResult::int_at(size_t col, size_t row) {
  return duckdb_value_int64(&res_, col, row);
}

Connection::Connection(Connection&& o) noexcept
    : db_(std::move(o.db_)), con_(o.con_), last_error_(o.last_error_) {
  o.con_ = nullptr;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    reset();
    db_ = std::move(o.db_);
    con_ = o.con_;
    last_error_ = o.last_error_;
    o.con_ = nullptr;
  }
  return *this;
}

Result<Connection> Connection::connect(std::shared_ptr<Database> db) {
  Connection c;
  if (duckdb_connect(db->handle(), &c.con_) != DuckDBSuccess)
    return fail(ErrorKind::internal,
                fmt::format("cannot connect to the DuckDB store {}", db->path()));
  c.db_ = std::move(db);
  return c;
}

void Connection::reset() {
  if (con_) duckdb_disconnect(&con_);
  con_ = nullptr;
  db_.reset();
}

Result<QueryResult> Connection::query(const std::string& sql) {
  if (!con_) return fail(ErrorKind::internal, "the DuckDB connection is closed");
  last_error_ = DUCKDB_ERROR_INVALID;
  duckdb_result res;
  if (duckdb_query(con_, sql.c_str(), &res) != DuckDBSuccess) {
    const char* msg = duckdb_result_error(&res);
    last_error_ = duckdb_result_error_type(&res);
    Error e = duckdb_error(last_error_, msg ? msg : "unknown DuckDB error");
    duckdb_destroy_result(&res);
    return fail(std::move(e));
  }
  return QueryResult(res);
}

Result<void> Connection::exec(const std::string& sql) {
  auto r = query(sql);
  if (!r) return fail(std::move(r.error()));
  return {};
}

}  // namespace finsync::sink::duck
