#pragma once
// The parts of a database sink's URL (scheme://user[:password]@host[:port]/path?k=v&...), split
// by libcurl's URL parser, for sinks whose driver takes its connection settings one by one.
// User, password, path and query keys/values are percent-decoded; a password found here is
// registered as a secret. Each sink then checks the scheme, path and query keys it accepts.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace finsync::sink::db {

struct DbUrl {
  std::string scheme;
  std::string user;
  std::string password;
  std::string host;  // an IPv6 address without its brackets
  std::optional<unsigned> port;
  std::string path;  // decoded; "" or "/" when the URL has none
  std::vector<std::pair<std::string, std::string>> query;
};

// invalid_input, naming `shape` (the URL form a sink expects) and with `text` masked, when
// `text` is not a URL or its port is not a number from 1 to 65535.
Result<DbUrl> split_db_url(const std::string& text, std::string_view shape);

// host, with brackets when it is an IPv6 address: "h:8123", "[::1]:8123".
std::string host_port(const std::string& host, unsigned port);

}  // namespace finsync::sink::db
