#pragma once
// The PostgreSQL server of the tests (FINSYNC_TEST_PG_DSN, started by scripts/test.sh through
// scripts/servers.sh): an administrative connection and a fresh schema per test, dropped after.
#include <gtest/gtest.h>

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "state/state_store.hpp"

namespace finsync::state::test {

// A lower-case identifier no other test (or test process) uses at the same time.
inline std::string fresh_name(const std::string& prefix) {
  std::random_device rd;
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000000u);
}

class PgSchema {
 public:
  PgSchema() = default;
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;
  ~PgSchema() {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  // A server is required: without one the test fails (it is not skipped).
  void set_up() {
    const char* dsn = std::getenv("FINSYNC_TEST_PG_DSN");
    ASSERT_TRUE(dsn != nullptr && *dsn != '\0')
        << "FINSYNC_TEST_PG_DSN is unset: this test needs a PostgreSQL server (scripts/test.sh "
           "starts one; by hand: source scripts/servers.sh && start_postgres)";
    dsn_ = dsn;
    conn_ = PQconnectdb(dsn);
    ASSERT_EQ(PQstatus(conn_), CONNECTION_OK)
        << "FINSYNC_TEST_PG_DSN=" << dsn_ << ": " << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    schema_ = fresh_name("finsync_test");
    exec("SET search_path TO " + schema_);
  }

  void tear_down() {
    if (conn_ == nullptr) return;
    const std::string drop = "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE";
    // A test may have restarted the server under this connection: the first try finds out.
    if (!exec(drop, /*expect_ok=*/false)) {
      PQreset(conn_);
      exec(drop);
    }
  }

  const std::string& dsn() const { return dsn_; }
  const std::string& schema() const { return schema_; }
  std::string host() const { return PQhost(conn_); }
  std::string port() const { return PQport(conn_); }
  std::string db() const { return PQdb(conn_); }

  PostgresStateOptions options() const {
    PostgresStateOptions o;
    o.dsn = dsn_;
    o.schema = schema_;
    return o;
  }
  // How the store names itself in errors.
  std::string label() const {
    return "state store postgres " + host() + ":" + port() + "/" + db() + " schema " + schema_;
  }

  // Runs statements on the administrative connection (search_path: the test's schema).
  bool exec(const std::string& sql, bool expect_ok = true) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (expect_ok) {
      EXPECT_TRUE(ok) << sql << ": " << PQerrorMessage(conn_);
    }
    PQclear(r);
    return ok;
  }
  // Every row of `sql`, columns joined by '|', NULL as "NULL".
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    PGresult* r = PQexec(conn_, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(conn_);
    for (int i = 0; i < PQntuples(r); ++i) {
      std::string row;
      for (int c = 0; c < PQnfields(r); ++c) {
        if (c > 0) row += '|';
        row += PQgetisnull(r, i, c) ? "NULL" : PQgetvalue(r, i, c);
      }
      out.push_back(row);
    }
    PQclear(r);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.size() == 1 ? r[0] : "<" + std::to_string(r.size()) + " rows>";
  }

 private:
  std::string dsn_;
  std::string schema_;
  PGconn* conn_ = nullptr;
};

}  // namespace finsync::state::test
