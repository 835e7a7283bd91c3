#include "sink/dolphindb/ddb_dsn.hpp"

#include <fmt/format.h>

#include "core/secrets.hpp"
#include "sink/db/db_url.hpp"

namespace finsync::sink::dolphindb {

namespace {

constexpr const char* kShape = "dolphindb://user@host:8848";

}  // namespace

std::string Dsn::where() const {
  return fmt::format("{}@{}", user, db::host_port(host, port));
}

Result<Dsn> parse_dsn(const std::string& text) {
  auto parts = db::split_db_url(text, kShape);
  if (!parts) return fail(parts.error());
  Dsn dsn;
  dsn.password = parts->password;
  if (parts->scheme != "dolphindb")
    return fail(
        ErrorKind::invalid_input,
        fmt::format("the scheme '{}' is not dolphindb; expected {}", parts->scheme, kShape));
  if (parts->host.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' names no host; expected {}", secrets::mask(text), kShape));
  dsn.host = parts->host;
  if (!parts->user.empty()) dsn.user = parts->user;
  dsn.port = parts->port.value_or(dsn.port);
  if ((!parts->path.empty() && parts->path != "/") || !parts->query.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' has a path or query; the database is the sink's `database` "
                            "key (dfs://name); expected {}",
                            secrets::mask(text), kShape));
  return dsn;
}

}  // namespace finsync::sink::dolphindb
