#include "sink/mysql/my_dsn.hpp"

#include <pwd.h>
#include <unistd.h>

#include <charconv>

#include <fmt/format.h>

#include "sink/db/db_url.hpp"

namespace finsync::sink::mysql {

namespace {

constexpr const char* kShape = "mysql://user@host:3306/database";

Result<unsigned> number(std::string_view key, std::string_view text, unsigned max) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > max)
    return fail(ErrorKind::invalid_input,
                fmt::format("{} '{}' is not a number from 1 to {}", key, text, max));
  return v;
}

}  // namespace

std::string Dsn::where() const {
  if (!socket.empty()) return fmt::format("{}@{}/{} (socket {})", user, host, database, socket);
  return fmt::format("{}@{}/{}", user, db::host_port(host, port), database);
}

Result<Dsn> parse_dsn(const std::string& text) {
  auto parts = db::split_db_url(text, kShape);
  if (!parts) return fail(parts.error());
  Dsn d;
  d.password = parts->password;
  if (parts->scheme != "mysql" && parts->scheme != "mariadb")
    return fail(ErrorKind::invalid_input, fmt::format("the scheme '{}' is not mysql or mariadb; "
                                                      "expected {}",
                                                      parts->scheme, kShape));
  if (!parts->host.empty()) d.host = parts->host;
  d.user = parts->user;
  if (d.user.empty()) {
    if (const passwd* pw = getpwuid(geteuid())) d.user = pw->pw_name;
  }
  d.port = parts->port.value_or(d.port);
  const std::string& path = parts->path;
  d.database = path.empty() ? "" : path.substr(1);
  if (d.database.empty() || d.database.find('/') != std::string::npos)
    return fail(ErrorKind::invalid_input,
                fmt::format("the path '{}' does not name one database; expected {}", path, kShape));
  for (const auto& [key, value] : parts->query) {
    if (key == "socket") {
      d.socket = value;
    } else if (key == "connect_timeout") {
      auto t = number("connect_timeout", value, 3600);
      if (!t) return fail(t.error());
      d.connect_timeout = *t;
    } else {
      return fail(ErrorKind::invalid_input,
                  fmt::format("'{}' is not a query key of mysql dsns; expected socket or "
                              "connect_timeout",
                              key));
    }
  }
  return d;
}

}  // namespace finsync::sink::mysql
