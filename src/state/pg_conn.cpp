#include "state/pg_conn.hpp"

#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/secrets.hpp"

namespace finsync::state::pg {
namespace {

// libpq messages end in a newline and continue on tab-indented lines ("Is the server running
// ..."): one line reads better inside our own message.
std::string one_line(std::string_view msg) {
  std::string out;
  for (char c : msg) {
    if (c == '\n') {
      out += ' ';
    } else if (c != '\t') {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Connection failures carry no SQLSTATE; libpq's wording is all there is.
ErrorKind connect_error_kind(PGconn* conn, std::string_view msg) {
  if (PQconnectionNeedsPassword(conn) != 0 || msg.find("authentication") != std::string_view::npos)
    return ErrorKind::auth;
  if (msg.find("role \"") != std::string_view::npos &&
      msg.find("does not exist") != std::string_view::npos)
    return ErrorKind::auth;
  if (msg.find("database \"") != std::string_view::npos &&
      msg.find("does not exist") != std::string_view::npos)
    return ErrorKind::invalid_input;
  return ErrorKind::unreachable;
}

void log_notice(void*, const char* message) {
  spdlog::debug("postgres: {}", one_line(message));
}

}  // namespace

int64_t Rows::int64(int row, int col) const {
  const char* p = PQgetvalue(res_.get(), row, col);
  int64_t v = 0;
  std::from_chars(p, p + PQgetlength(res_.get(), row, col), v);
  return v;
}

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(res_.get());
  int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

ErrorKind error_kind(std::string_view sqlstate) {
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "23") return ErrorKind::invalid_input;  // integrity constraint violation
  if (cls == "08") return ErrorKind::unreachable;    // connection exception
  if (cls == "28") return ErrorKind::auth;           // invalid authorization
  if (cls == "53") return ErrorKind::transient;      // insufficient resources
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03")
    return ErrorKind::transient;
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03")
    return ErrorKind::unreachable;                  // the server is shutting down or starting
  if (sqlstate == "42501") return ErrorKind::auth;  // insufficient privilege
  return ErrorKind::internal;
}

// ---- Conn

Conn::Conn(Conn&& o) noexcept
    : conn_(std::exchange(o.conn_, nullptr)),
      label_(std::move(o.label_)),
      session_sql_(std::move(o.session_sql_)),
      statements_(o.statements_),
      lost_first_(o.lost_first_) {}

Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    close();
    conn_ = std::exchange(o.conn_, nullptr);
    label_ = std::move(o.label_);
    session_sql_ = std::move(o.session_sql_);
    statements_ = o.statements_;
    lost_first_ = o.lost_first_;
  }
  return *this;
}

Conn::~Conn() {
  close();
}

void Conn::close() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

Result<Conn> Conn::connect(const std::string& dsn, const std::string& password,
                           std::string_view what, std::string_view suffix) {
  secrets::register_secret(password);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
  if (parsed == nullptr) {
    // The parser may quote the offending part of the string, password included.
    std::string msg = parse_error != nullptr ? one_line(parse_error) : "out of memory";
    PQfreemem(parse_error);
    return fail(ErrorKind::invalid_input,
                secrets::mask(fmt::format("{}: invalid dsn: {}", what, msg)));
  }
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && std::string_view(o->keyword) == "password")
      secrets::register_secret(o->val);
  }
  PQconninfoFree(parsed);

  // Entries before dbname are defaults the dsn may override; password after it overrides the
  // dsn's.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "password", nullptr};
  const char* values[] = {"10", "finsync", dsn.c_str(),
                          password.empty() ? nullptr : password.c_str(), nullptr};
  Conn c;
  c.conn_ = PQconnectdbParams(keys, values, 1);
  if (c.conn_ == nullptr) return fail(ErrorKind::internal, fmt::format("{}: out of memory", what));
  c.label_ =
      fmt::format("{} {}:{}/{}{}", what, PQhost(c.conn_), PQport(c.conn_), PQdb(c.conn_), suffix);
  if (PQstatus(c.conn_) != CONNECTION_OK) {
    const std::string msg = one_line(PQerrorMessage(c.conn_));
    return fail(connect_error_kind(c.conn_, msg),
                secrets::mask(fmt::format("{}: cannot connect: {}", c.label_, msg)));
  }
  PQsetNoticeProcessor(c.conn_, &log_notice, nullptr);
  return c;
}

Result<void> Conn::set_session(std::string sql) {
  session_sql_ = std::move(sql);
  return exec_script("set up session", session_sql_.c_str());
}

Result<void> Conn::ensure() {
  if (PQstatus(conn_) == CONNECTION_OK) return {};
  spdlog::info("{}: connection lost, reconnecting", label_);
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string msg = one_line(PQerrorMessage(conn_));
    return fail(connect_error_kind(conn_, msg),
                secrets::mask(fmt::format("{}: cannot reconnect: {}", label_, msg)));
  }
  PQsetNoticeProcessor(conn_, &log_notice, nullptr);
  if (session_sql_.empty()) return {};
  return exec_script("set up session", session_sql_.c_str());
}

Error Conn::error_from(std::string_view op, const PGresult* res) {
  std::string msg;
  std::string_view sqlstate;
  if (res != nullptr) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = s;
    if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) msg = m;
  }
  if (msg.empty()) msg = one_line(PQerrorMessage(conn_));
  ErrorKind kind = error_kind(sqlstate);
  if (PQstatus(conn_) != CONNECTION_OK) {
    kind = ErrorKind::unreachable;
    lost_first_ = statements_ == 1;
  }
  return Error{kind, secrets::mask(fmt::format("{}: {}: {}", label_, op, msg)), std::nullopt};
}

Result<Rows> Conn::exec(std::string_view op, const char* sql, const std::vector<Param>& params) {
  ++statements_;
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  Rows rows(PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                         nullptr, nullptr, 0));
  if (!rows.ok()) return tl::unexpected(error_from(op, rows.get()));
  return rows;
}

Result<void> Conn::exec_script(std::string_view op, const char* sql) {
  ++statements_;
  Rows rows(PQexec(conn_, sql));
  if (!rows.ok()) return tl::unexpected(error_from(op, rows.get()));
  return {};
}

std::string Conn::quote_ident(std::string_view name) const {
  char* q = PQescapeIdentifier(conn_, name.data(), name.size());
  std::string out = q != nullptr ? q : "";
  PQfreemem(q);
  return out;
}

// ---- Transaction

Result<Transaction> Transaction::begin(Conn& conn, std::string_view op) {
  if (auto r = conn.exec(op, "BEGIN"); !r) return tl::unexpected(r.error());
  return Transaction(conn, op);
}

Transaction::~Transaction() {
  if (conn_ != nullptr && PQtransactionStatus(conn_->get()) != PQTRANS_IDLE &&
      PQstatus(conn_->get()) == CONNECTION_OK) {
    (void)conn_->exec(op_, "ROLLBACK");
  }
}

Result<void> Transaction::commit() {
  if (auto r = conn_->exec(op_, "COMMIT"); !r) return tl::unexpected(r.error());
  conn_ = nullptr;
  return {};
}

}  // namespace finsync::state::pg
