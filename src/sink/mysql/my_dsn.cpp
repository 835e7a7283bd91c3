#include "sink/mysql/my_dsn.hpp"

#include <curl/curl.h>
#include <pwd.h>
#include <unistd.h>

#include <charconv>
#include <mutex>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::sink::mysql {

namespace {

constexpr const char* kShape = "mysql://user@host:3306/database";

std::string unescape(std::string_view s) {
  int n = 0;
  char* out = curl_easy_unescape(nullptr, s.data(), int(s.size()), &n);
  if (out == nullptr) return std::string(s);
  std::string r(out, size_t(n));
  curl_free(out);
  return r;
}

// One part of a parsed URL; empty when absent.
std::string url_part(CURLU* u, CURLUPart part, bool decode) {
  char* v = nullptr;
  if (curl_url_get(u, part, &v, decode ? CURLU_URLDECODE : 0) != CURLUE_OK || v == nullptr)
    return "";
  std::string r(v);
  curl_free(v);
  return r;
}

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
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}@{}{}{}:{}/{}", user, v6 ? "[" : "", host, v6 ? "]" : "", port, database);
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
  Dsn d;
  const std::string scheme = url_part(u, CURLUPART_SCHEME, false);
  std::string host = url_part(u, CURLUPART_HOST, false);
  const std::string user = url_part(u, CURLUPART_USER, true);
  d.password = url_part(u, CURLUPART_PASSWORD, true);
  const std::string port = url_part(u, CURLUPART_PORT, false);
  const std::string path = url_part(u, CURLUPART_PATH, true);
  const std::string query = url_part(u, CURLUPART_QUERY, false);
  curl_url_cleanup(u);
  secrets::register_secret(d.password);
  if (scheme != "mysql" && scheme != "mariadb")
    return fail(
        ErrorKind::invalid_input,
        fmt::format("the scheme '{}' is not mysql or mariadb; expected {}", scheme, kShape));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (!host.empty()) d.host = host;
  d.user = user;
  if (d.user.empty()) {
    if (const passwd* pw = getpwuid(geteuid())) d.user = pw->pw_name;
  }
  if (!port.empty()) {
    auto p = number("the port", port, 65535);
    if (!p) return fail(p.error());
    d.port = *p;
  }
  d.database = path.empty() ? "" : path.substr(1);
  if (d.database.empty() || d.database.find('/') != std::string::npos)
    return fail(ErrorKind::invalid_input,
                fmt::format("the path '{}' does not name one database; expected {}", path, kShape));
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
