#include "sink/db/db_url.hpp"

#include <curl/curl.h>

#include <charconv>
#include <mutex>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::sink::db {

namespace {

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

}  // namespace

Result<DbUrl> split_db_url(const std::string& text, std::string_view shape) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURLU* u = curl_url();
  if (u == nullptr) return fail(ErrorKind::internal, "out of memory");
  const CURLUcode rc = curl_url_set(u, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    curl_url_cleanup(u);
    return fail(ErrorKind::invalid_input,
                fmt::format("'{}' is not a URL ({}); expected {}", secrets::mask(text),
                            curl_url_strerror(rc), shape));
  }
  DbUrl url;
  url.scheme = url_part(u, CURLUPART_SCHEME, false);
  url.host = url_part(u, CURLUPART_HOST, false);
  url.user = url_part(u, CURLUPART_USER, true);
  url.password = url_part(u, CURLUPART_PASSWORD, true);
  const std::string port = url_part(u, CURLUPART_PORT, false);
  url.path = url_part(u, CURLUPART_PATH, true);
  const std::string query = url_part(u, CURLUPART_QUERY, false);
  curl_url_cleanup(u);
  secrets::register_secret(url.password);
  if (url.host.size() > 2 && url.host.front() == '[')
    url.host = url.host.substr(1, url.host.size() - 2);
  if (!port.empty()) {
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
      return fail(ErrorKind::invalid_input,
                  fmt::format("the port '{}' is not a number from 1 to 65535", port));
    url.port = p;
  }
  size_t at = 0;
  while (at < query.size()) {
    size_t amp = query.find('&', at);
    if (amp == std::string::npos) amp = query.size();
    const std::string_view item(query.data() + at, amp - at);
    at = amp + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    url.query.emplace_back(unescape(item.substr(0, eq)),
                           eq == std::string_view::npos ? "" : unescape(item.substr(eq + 1)));
  }
  return url;
}

std::string host_port(const std::string& host, unsigned port) {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

}  // namespace finsync::sink::db
