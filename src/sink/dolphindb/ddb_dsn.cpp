#include "sink/dolphindb/ddb_dsn.hpp"

#include <curl/curl.h>

#include <charconv>
#include <mutex>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::sink::dolphindb {

namespace {

constexpr const char* kShape = "dolphindb://user@host:8848";

std::string part(CURLU* u, CURLUPart which, bool decode) {
  char* v = nullptr;
  if (curl_url_get(u, which, &v, decode ? CURLU_URLDECODE : 0) != CURLUE_OK || v == nullptr)
    return "";
  std::string r(v);
  curl_free(v);
  return r;
}

}  // namespace

std::string Dsn::where() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}@{}{}{}:{}", user, v6 ? "[" : "", host, v6 ? "]" : "", port);
}

Result<Dsn> parse_dsn(const std::string& text) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURLU* u = curl_url();
  if (u == nullptr) return fail(ErrorKind::internal, "out of memory");
  const CURLUcode rc = curl_url_set(u, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    curl_url_cleanup(u);
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' is not a URL ({}); expected {}", secrets::mask(text),
                            curl_url_strerror(rc), kShape));
  }
  const std::string scheme = part(u, CURLUPART_SCHEME, false);
  std::string host = part(u, CURLUPART_HOST, false);
  const std::string user = part(u, CURLUPART_USER, true);
  Dsn dsn;
  dsn.password = part(u, CURLUPART_PASSWORD, true);
  const std::string port = part(u, CURLUPART_PORT, false);
  const std::string path = part(u, CURLUPART_PATH, false);
  const std::string query = part(u, CURLUPART_QUERY, false);
  curl_url_cleanup(u);
  secrets::register_secret(dsn.password);
  if (scheme != "dolphindb")
    return fail(ErrorKind::invalid_input,
                fmt::format("the scheme '{}' is not dolphindb; expected {}", scheme, kShape));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' names no host; expected {}", secrets::mask(text), kShape));
  dsn.host = host;
  if (!user.empty()) dsn.user = user;
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
      return fail(ErrorKind::invalid_input,
                  fmt::format("the port '{}' is not a number from 1 to 65535", port));
    dsn.port = p;
  }
  if ((!path.empty() && path != "/") || !query.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' has a path or query; the database is the sink's `database` "
                            "key (dfs://name); expected {}",
                            secrets::mask(text), kShape));
  return dsn;
}

}  // namespace finsync::sink::dolphindb
