#pragma once
// The clickhouse sink's URL: http[s]://user[:password]@host[:port]/?database=db, parsed with
// libcurl's URL parser. User and password are percent-decoded; a password found here is
// registered as a secret. No user: `default` (the server's default user). Port: 8123 for http,
// 8443 for https. The only query key is `database` (default `default`).
#include <string>

#include "core/error.hpp"

namespace finsync::sink::clickhouse {

struct Url {
  std::string scheme = "http";
  std::string user = "default";
  std::string password;
  std::string host;
  unsigned port = 8123;
  std::string database = "default";

  // "http://host:port/": where requests go, with no credentials.
  std::string base() const;
  // "user@host:port/database"; no secret.
  std::string where() const;
};

// invalid_input, with the URL masked, when it is not an http(s) URL of a ClickHouse server.
Result<Url> parse_url(const std::string& url);

}  // namespace finsync::sink::clickhouse
