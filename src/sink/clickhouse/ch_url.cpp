#include "sink/clickhouse/ch_url.hpp"

#include <fmt/format.h>

#include "core/secrets.hpp"
#include "sink/db/db_url.hpp"

namespace finsync::sink::clickhouse {

namespace {

constexpr const char* kShape = "http://user@host:8123/?database=db";

}  // namespace

std::string Url::base() const {
  return fmt::format("{}://{}/", scheme, db::host_port(host, port));
}

std::string Url::where() const {
  return fmt::format("{}@{}/{}", user, db::host_port(host, port), database);
}

Result<Url> parse_url(const std::string& text) {
  auto parts = db::split_db_url(text, kShape);
  if (!parts) return fail(parts.error());
  Url url;
  url.scheme = parts->scheme;
  url.password = parts->password;
  if (url.scheme != "http" && url.scheme != "https")
    return fail(ErrorKind::invalid_input,
                fmt::format("the scheme '{}' is not http or https (ClickHouse's HTTP interface); "
                            "expected {}",
                            url.scheme, kShape));
  if (parts->host.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' names no host; expected {}", secrets::mask(text), kShape));
  url.host = parts->host;
  if (!parts->user.empty()) url.user = parts->user;
  url.port = parts->port.value_or(url.scheme == "https" ? 8443 : 8123);
  if (!parts->path.empty() && parts->path != "/")
    return fail(ErrorKind::invalid_input,
                fmt::format("the path '{}' is not /: ClickHouse takes the database as "
                            "?database=; expected {}",
                            parts->path, kShape));
  for (const auto& [key, value] : parts->query) {
    if (key != "database")
      return fail(
          ErrorKind::invalid_input,
          fmt::format("'{}' is not a query key of clickhouse urls; expected database", key));
    if (value.empty()) return fail(ErrorKind::invalid_input, "?database= names no database");
    url.database = value;
  }
  return url;
}

}  // namespace finsync::sink::clickhouse
