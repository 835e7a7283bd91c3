#include "sink/clickhouse/ch_http.hpp"

#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "core/percent_encode.hpp"
#include "core/secrets.hpp"

namespace finsync::sink::clickhouse {

namespace {

// wait_end_of_query: the server answers after the statement finished, so a failure late in a
// statement is an HTTP error and not a 200 with an error at the end of the body.
// max_insert_block_size: an insert of up to this many rows is parsed into one block, which the
// server writes as one part per partition, atomically; finsync's batch_size never exceeds it.
constexpr const char* kSettings = "wait_end_of_query=1&max_insert_block_size=1048576";

size_t on_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t on_read(char* buf, size_t size, size_t n, void* produce) {
  return (*static_cast<const Producer*>(produce))(buf, size * n);
}

// "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() =
// DB::Exception\n" (18.16) or "Code: 60. DB::Exception: Table x doesn't exist. (UNKNOWN_TABLE)
// (version 23.8)\n" (current servers): the message without its wrapping.
std::string server_message(std::string body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  const size_t what = body.rfind(", e.what() = ");
  if (what != std::string::npos) body.erase(what);
  const size_t text = body.find("e.displayText() = ");
  if (text != std::string::npos) body.erase(0, text + std::strlen("e.displayText() = "));
  return body;
}

ErrorKind kind_of_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return ErrorKind::unreachable;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return ErrorKind::invalid_input;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return ErrorKind::permanent;
    default:
      // Send and receive errors, an empty reply, a timeout: the connection broke.
      return ErrorKind::transient;
  }
}

}  // namespace

int code_of(std::string_view body) {
  constexpr std::string_view head = "Code: ";
  const size_t at = body.find(head);
  if (at == std::string_view::npos) return 0;
  int code = 0;
  const char* p = body.data() + at + head.size();
  const auto [end, ec] = std::from_chars(p, body.data() + body.size(), code);
  return ec == std::errc() && end != p ? code : 0;
}

ErrorKind kind_of_code(int code) {
  switch (code) {
    // TIMEOUT_EXCEEDED, SOCKET_TIMEOUT, NETWORK_ERROR, TOO_MANY_SIMULTANEOUS_QUERIES,
    // TABLE_IS_READ_ONLY, TOO_MANY_PARTS, UNKNOWN_STATUS_OF_INSERT, SYSTEM_ERROR (a server
    // starting or stopping), TABLE_IS_DROPPED, ABORTED, KEEPER_EXCEPTION, MEMORY_LIMIT_EXCEEDED.
    case 159:
    case 209:
    case 210:
    case 202:
    case 242:
    case 252:
    case 319:
    case 425:
    case 218:
    case 236:
    case 999:
    case 241:
      return ErrorKind::transient;
    // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, IP_ADDRESS_NOT_ALLOWED, READONLY,
    // DATABASE_ACCESS_DENIED, ACCESS_DENIED, AUTHENTICATION_FAILED.
    case 192:
    case 193:
    case 194:
    case 195:
    case 164:
    case 291:
    case 497:
    case 516:
      return ErrorKind::auth;
    // Data the server cannot parse or store, a database that does not exist, a type mismatch.
    case 6:
    case 27:
    case 33:
    case 38:
    case 41:
    case 53:
    case 69:
    case 70:
    case 81:
    case 117:
      return ErrorKind::invalid_input;
    default:
      return ErrorKind::permanent;
  }
}

Http::Http(Url url) : url_(std::move(url)), curl_(curl_easy_init()) {}

Http::~Http() {
  if (curl_ != nullptr) curl_easy_cleanup(curl_);
}

Result<std::string> Http::perform(std::string_view what, const std::string& url_query) {
  last_code_ = 0;
  if (curl_ == nullptr) return fail(ErrorKind::internal, "out of memory");
  const std::string target = fmt::format("{}?database={}&{}{}", url_.base(),
                                         percent_encode(url_.database), kSettings, url_query);
  std::string body;
  curl_easy_setopt(curl_, CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, long(CURLAUTH_BASIC));
  curl_easy_setopt(curl_, CURLOPT_USERNAME, url_.user.c_str());
  curl_easy_setopt(curl_, CURLOPT_PASSWORD, url_.password.c_str());
  curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &body);
  char curl_error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, curl_error);
  const CURLcode rc = curl_easy_perform(curl_);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK)
    return fail(kind_of_curl(rc),
                secrets::mask(fmt::format(
                    "{}: {} ({})", what, *curl_error ? curl_error : curl_easy_strerror(rc),
                    rc == CURLE_COULDNT_CONNECT ? "no server answers" : "connection failed")));
  long status = 0;
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
  if (status == 200) return body;
  last_code_ = code_of(body);
  ErrorKind kind = last_code_ != 0 ? kind_of_code(last_code_) : ErrorKind::permanent;
  if (last_code_ == 0 && (status == 401 || status == 403)) kind = ErrorKind::auth;
  if (last_code_ == 0 && status >= 502) kind = ErrorKind::transient;
  std::string text = server_message(body);
  if (text.size() > 600) text = text.substr(0, 600) + "...";
  return fail(kind, secrets::mask(fmt::format("{}: {} (HTTP {})", what, text, status)));
}

Result<std::string> Http::run(std::string_view what, const std::string& sql) {
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_READFUNCTION, nullptr);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, sql.c_str());
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(sql.size()));
  return perform(what, "");
}

Result<void> Http::insert(std::string_view what, const std::string& sql, const Producer& produce) {
  curl_slist* headers = curl_slist_append(nullptr, "Transfer-Encoding: chunked");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl_, CURLOPT_POST, 1L);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(-1));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &on_read);
  curl_easy_setopt(curl_, CURLOPT_READDATA, &produce);
  auto r = perform(what, "&query=" + percent_encode(sql));
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_READFUNCTION, nullptr);
  curl_slist_free_all(headers);
  if (!r) return fail(r.error());
  return {};
}

}  // namespace finsync::sink::clickhouse
