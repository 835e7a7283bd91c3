#pragma once
// Thin RAII layer over libpq: a connection that runs parameterised statements (PQexecParams,
// text format) and reconnects after the server went away, a result set, and a transaction guard.
// Internal to the state module.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

#include "core/error.hpp"

namespace finsync::state::pg {

// One statement parameter, sent as text; nullopt is SQL NULL.
class Param {
 public:
  Param(int64_t v) : value_(std::to_string(v)) {}
  Param(std::string_view v) : value_(std::string(v)) {}
  Param(const std::string& v) : value_(v) {}
  Param(const char* v) : value_(std::string(v)) {}
  Param(std::optional<int64_t> v) {
    if (v) value_ = std::to_string(*v);
  }
  const char* c_str() const { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

class Rows {
 public:
  explicit Rows(PGresult* res) : res_(res, &PQclear) {}

  int size() const { return PQntuples(res_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  int64_t int64(int row, int col) const;
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(res_.get(), row, col),
                       static_cast<size_t>(PQgetlength(res_.get(), row, col)));
  }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;
  bool ok() const {
    const auto s = PQresultStatus(res_.get());
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  const PGresult* get() const { return res_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> res_;
};

// What the caller should do about a failed statement, by SQLSTATE: constraint violations are bad
// input, serialization failures and deadlocks are worth a retry, a lost connection is
// unreachable, privileges and authentication are auth, the rest internal.
ErrorKind error_kind(std::string_view sqlstate);

class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  Conn(Conn&& o) noexcept;
  Conn& operator=(Conn&& o) noexcept;
  ~Conn();

  // `dsn` is a libpq URI or keyword/value string; `password` (may be empty) overrides one in it.
  // Both passwords are registered as secrets. `what` names the database in errors, e.g.
  // "state store postgres"; the label becomes "<what> <host>:<port>/<db><suffix>".
  static Result<Conn> connect(const std::string& dsn, const std::string& password,
                              std::string_view what, std::string_view suffix);

  const std::string& label() const { return label_; }
  PGconn* get() const { return conn_; }

  // Runs after every connect and reconnect (session settings such as search_path).
  Result<void> set_session(std::string sql);
  // A usable connection: reconnects (and reapplies the session) if the last one was lost.
  Result<void> ensure();
  // True when the last failure was the connection going away on the first statement since
  // start_operation(): nothing was done, so the operation may be run again after ensure().
  bool lost_before_anything() const { return lost_first_; }
  void start_operation() {
    statements_ = 0;
    lost_first_ = false;
  }

  // One statement with $1, $2, ... parameters. `op` (a literal) names the operation in errors.
  Result<Rows> exec(std::string_view op, const char* sql, const std::vector<Param>& params = {});
  // Several statements without parameters (migrations).
  Result<void> exec_script(std::string_view op, const char* sql);
  // A quoted identifier ("schema"), escaped by libpq.
  std::string quote_ident(std::string_view name) const;

 private:
  Error error_from(std::string_view op, const PGresult* res);
  void close();

  PGconn* conn_ = nullptr;
  std::string label_;
  std::string session_sql_;
  int statements_ = 0;
  bool lost_first_ = false;
};

// BEGIN ... COMMIT; rolls back unless committed.
class Transaction {
 public:
  static Result<Transaction> begin(Conn& conn, std::string_view op);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& o) noexcept : conn_(o.conn_), op_(o.op_) { o.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  Transaction(Conn& conn, std::string_view op) : conn_(&conn), op_(op) {}
  Conn* conn_;
  std::string_view op_;
};

}  // namespace finsync::state::pg
