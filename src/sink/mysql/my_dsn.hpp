#pragma once
// The mysql sink's DSN: mysql://user[:password]@host[:port]/database[?key=value&...] (mariadb://
// too), parsed with libcurl's URL parser. User, password and database are percent-decoded; a
// password found here is registered as a secret. No user: the login name. Query keys: socket (a
// Unix socket path, used instead of TCP), connect_timeout (seconds, default 10).
#include <string>

#include "core/error.hpp"

namespace finsync::sink::mysql {

struct Dsn {
  std::string user;  // default: the login name, as the mariadb client has it
  std::string password;
  std::string host = "localhost";
  unsigned port = 3306;
  std::string database;
  std::string socket;
  unsigned connect_timeout = 10;

  // "user@host:port/database" or "user@localhost/database (socket PATH)"; no secret.
  std::string where() const;
};

// invalid_input, with the DSN masked, when it is not a mysql URL with a database.
Result<Dsn> parse_dsn(const std::string& dsn);

}  // namespace finsync::sink::mysql
