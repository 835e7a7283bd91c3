#pragma once
// The MariaDB server of the tests (FINSYNC_TEST_MYSQL_DSN, started by scripts/test.sh through
// scripts/servers.sh): an administrative connection of its own and a fresh database per test,
// dropped after. Rows are read back through that connection, never through the sink's.
#include <gtest/gtest.h>
#include <mysql.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "sink/mysql/my_dsn.hpp"

namespace finsync::sink::mysql::test {

class MyDatabase {
 public:
  MyDatabase() = default;
  MyDatabase(const MyDatabase&) = delete;
  MyDatabase& operator=(const MyDatabase&) = delete;
  ~MyDatabase() {
    if (my_ != nullptr) mysql_close(my_);
  }

  // A server is required: without one the test fails (it is not skipped).
  void set_up() {
    const char* dsn = std::getenv("FINSYNC_TEST_MYSQL_DSN");
    ASSERT_TRUE(dsn != nullptr && *dsn != '\0')
        << "FINSYNC_TEST_MYSQL_DSN is unset: this test needs a MariaDB server (scripts/test.sh "
           "starts one; by hand: source scripts/servers.sh && start_mariadb)";
    auto parsed = parse_dsn(dsn);
    ASSERT_TRUE(parsed) << parsed.error().message;
    admin_ = *parsed;
    std::random_device rd;
    db_ = fmt::format("finsync_t_{}_{}", ::getpid(), rd() % 1000000000u);
    ASSERT_TRUE(connect()) << "FINSYNC_TEST_MYSQL_DSN=" << dsn << ": " << mysql_error(my_);
    ASSERT_TRUE(exec("CREATE DATABASE " + db_));
    ASSERT_TRUE(exec("USE " + db_));
  }

  void tear_down() {
    if (my_ == nullptr) return;
    // A test may have killed connections: the first try finds out.
    if (!exec("DROP DATABASE IF EXISTS " + db_, /*expect_ok=*/false)) {
      mysql_close(my_);
      my_ = nullptr;
      if (connect()) exec("DROP DATABASE IF EXISTS " + db_);
    }
  }

  // The sink's DSN: the test server, this test's database.
  std::string dsn(const std::string& user = "", const std::string& password = "") const {
    return fmt::format("mysql://{}{}{}@{}:{}/{}", user.empty() ? admin_.user : user,
                       password.empty() ? "" : ":", password, admin_.host, admin_.port, db_);
  }
  const std::string& db() const { return db_; }
  std::string host() const { return admin_.host; }
  unsigned port() const { return admin_.port; }
  std::string where(const std::string& user = "root") const {
    return fmt::format("{}@{}:{}/{}", user, admin_.host, admin_.port, db_);
  }

  bool exec(const std::string& sql, bool expect_ok = true) {
    if (!connected(sql)) return false;
    const bool ok = mysql_real_query(my_, sql.data(), sql.size()) == 0;
    if (ok) {
      if (MYSQL_RES* r = mysql_store_result(my_)) mysql_free_result(r);
    } else if (expect_ok) {
      ADD_FAILURE() << sql << ": " << mysql_error(my_);
    }
    return ok;
  }
  // Every row of `sql`, columns joined by '|', NULL as "NULL".
  std::vector<std::string> rows(const std::string& sql) {
    std::vector<std::string> out;
    if (!connected(sql)) return out;
    if (mysql_real_query(my_, sql.data(), sql.size()) != 0) {
      ADD_FAILURE() << sql << ": " << mysql_error(my_);
      return out;
    }
    MYSQL_RES* res = mysql_store_result(my_);
    if (res == nullptr) return out;
    const unsigned n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const unsigned long* len = mysql_fetch_lengths(res);
      std::string line;
      for (unsigned i = 0; i < n; ++i) {
        if (i) line += '|';
        line += row[i] ? std::string(row[i], len[i]) : "NULL";
      }
      out.push_back(line);
    }
    mysql_free_result(res);
    return out;
  }
  std::string one(const std::string& sql) {
    auto r = rows(sql);
    return r.size() == 1 ? r[0] : "<" + std::to_string(r.size()) + " rows>";
  }

 private:
  // set_up failed (no server configured): a statement fails the test instead of crashing it.
  bool connected(const std::string& sql) {
    if (my_ != nullptr) return true;
    ADD_FAILURE() << sql << ": no connection to the test server";
    return false;
  }
  bool connect() {
    my_ = mysql_init(nullptr);
    mysql_options(my_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(my_, admin_.host.c_str(), admin_.user.c_str(), admin_.password.c_str(),
                           nullptr, admin_.port, nullptr, 0) == nullptr)
      return false;
    // Read back in UTC, the way the sink writes.
    return exec("SET time_zone = '+00:00'");
  }

  Dsn admin_;
  std::string db_;
  MYSQL* my_ = nullptr;
};

}  // namespace finsync::sink::mysql::test
