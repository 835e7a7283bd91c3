#pragma once
// The dolphindb sink's DSN: dolphindb://user[:password]@host[:port], split by db::split_db_url
// (libcurl's URL parser). User and password are percent-decoded; a password found here is
// registered as a secret. No user: admin (DolphinDB's default administrator). Port: 8848.
#include <string>

#include "core/error.hpp"

namespace finsync::sink::dolphindb {

struct Dsn {
  std::string user = "admin";
  std::string password;
  std::string host;
  unsigned port = 8848;

  // "user@host:port"; no secret.
  std::string where() const;
};

// invalid_input, with the DSN masked, when it is not a dolphindb:// URL naming a host.
Result<Dsn> parse_dsn(const std::string& dsn);

}  // namespace finsync::sink::dolphindb
