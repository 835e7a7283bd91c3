#include "sink/clickhouse/ch_url.hpp"

#include <curl/curl.h>

#include <charconv>
#include <mutex>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::sink::clickhouse {

namespace {

constexpr const char* kShape = "http://user@host:8123/?database=db";

std::string unescape(std::string_view s) {
  int n = 0;
  char* out = curl_easy_unescape(nullptr, s.data(), int(s.size()), &n);
  if (out == nullptr) return std::string(s);
  std::string r(out, size_t(n));
  curl_free(out);
  return r;
}

std::string url_part(CURLU* u, CURLUPart part, bool decode) {
  char* v = nullptr;
  if (curl_url_get(u, part, &v, decode ? CURLU_URLDECODE : 0) != CURLUE_OK || v == nullptr)
    return "";
  std::string r(v);
  curl_free(v);
  return r;
}

bool v6(const std::string& host) {
  return host.find(':') != std::string::npos;
}

}  // namespace

std::string Url::base() const {
  return fmt::format("{}://{}{}{}:{}/", scheme, v6(host) ? "[" : "", host, v6(host) ? "]" : "",
                     port);
}

std::string Url::where() const {
  return fmt::format("{}@{}{}{}:{}/{}", user, v6(host) ? "[" : "", host, v6(host) ? "]" : "", port,
                     database);
}

Result<Url> parse_url(const std::string& text) {
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
  Url url;
  url.scheme = url_part(u, CURLUPART_SCHEME, false);
  std::string host = url_part(u, CURLUPART_HOST, false);
  const std::string user = url_part(u, CURLUPART_USER, true);
  url.password = url_part(u, CURLUPART_PASSWORD, true);
  const std::string port = url_part(u, CURLUPART_PORT, false);
  const std::string path = url_part(u, CURLUPART_PATH, true);
  const std::string query = url_part(u, CURLUPART_QUERY, false);
  curl_url_cleanup(u);
  secrets::register_secret(url.password);
  if (url.scheme != "http" && url.scheme != "https")
    return fail(ErrorKind::invalid_input,
                fmt::format("the scheme '{}' is not http or https (ClickHouse's HTTP interface); "
                            "expected {}",
                            url.scheme, kShape));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' names no host; expected {}", secrets::mask(text), kShape));
  url.host = host;
  if (!user.empty()) url.user = user;
  url.port = url.scheme == "https" ? 8443 : 8123;
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
      return fail(ErrorKind::invalid_input,
                  fmt::format("the port '{}' is not a number from 1 to 65535", port));
    url.port = p;
  }
  if (!path.empty() && path != "/")
    return fail(ErrorKind::invalid_input,
                fmt::format("the path '{}' is not /: ClickHouse takes the database as "
                            "?database=; expected {}",
                            path, kShape));
  size_t at = 0;
  while (at < query.size()) {
    size_t amp = query.find('&', at);
    if (amp == std::string::npos) amp = query.size();
    const std::string_view item(query.data() + at, amp - at);
    at = amp + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = unescape(item.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? "" : unescape(item.substr(eq + 1));
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
