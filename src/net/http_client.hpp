#pragma once
// HTTP client on libcurl multi, driven from the Asio io_context through
// curl_multi_socket_action: every transfer is a coroutine on the I/O thread, sockets and timers
// are Asio objects, connections are reused across requests.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/error.hpp"

namespace finsync::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // names lower-cased
  std::string body;
  std::chrono::microseconds elapsed{0};

  const std::string* header(std::string_view lower_name) const;
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};
  // A transfer slower than low_speed_bytes/s for low_speed_time is aborted.
  long low_speed_bytes = 1;
  std::chrono::seconds low_speed_time{30};
  std::string ca_file;     // PEM CA bundle used INSTEAD of the system store; empty = system store
  bool verify_tls = true;  // off only by explicit configuration
  long max_connections = 16;
  std::string user_agent = "finsync/0.1";
};

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Transport failures map to ErrorKind: refused/DNS/connect timeout/TLS, and timeouts before
  // any byte of response arrived (a server that accepts and never answers) -> unreachable;
  // dropped or truncated responses and timeouts part-way through a response -> transient;
  // malformed requests -> invalid_input; client destroyed or the awaiting operation cancelled
  // (Asio cancellation slot) -> cancelled. HTTP status codes are not errors here: the caller
  // classifies them. See docs/http.md.
  // Must be called and awaited on the io_context's (single) thread; the client is not
  // thread-safe. The io_context must outlive the client.
  boost::asio::awaitable<Result<HttpResponse>> send(HttpRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace finsync::net
