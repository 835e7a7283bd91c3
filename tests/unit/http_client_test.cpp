// HttpClient against a tiny HTTP/1.1 server running in the test process (Boost.Beast parser on
// 127.0.0.1, own thread). The client runs on the test thread's io_context.
#include "net/http_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/curl_error.hpp"

namespace finsync::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// --- test server ---------------------------------------------------------------------------

struct Reply {
  enum class Action { respond, respond_and_close, silent };
  std::string raw;  // bytes written as they are (status line, headers, body)
  Action action = Action::respond;
};

struct SeenRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  int connection = 0;  // 1-based index of the connection it arrived on
};

std::string response(int status, std::string_view reason, const std::vector<std::string>& headers,
                     std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  for (const auto& h : headers) out += h + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

class TestServer {
 public:
  using Handler = std::function<Reply(const SeenRequest&)>;

  explicit TestServer(Handler handler, asio::ssl::context* tls = nullptr)
      : handler_(std::move(handler)),
        tls_(tls),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(std::string_view path, std::string_view scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  int connections() const { return connections_.load(); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto token = asio::redirect_error(asio::use_awaitable, ec);
      tcp::socket socket = co_await acceptor_.async_accept(token);
      if (ec) co_return;
      const int index = ++connections_;
      asio::co_spawn(io_, session(std::move(socket), index), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket, int index) {
    if (tls_ == nullptr) {
      co_await serve(socket, index);
      co_return;
    }
    asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await stream.async_handshake(asio::ssl::stream_base::server, token);
    if (ec) co_return;
    co_await serve(stream, index);
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, int index) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      auto token = asio::redirect_error(asio::use_awaitable, ec);
      co_await http::async_read(stream, buffer, req, token);
      if (ec) co_return;
      SeenRequest seen;
      seen.method = std::string(req.method_string());
      seen.target = std::string(req.target());
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      seen.body = req.body();
      seen.connection = index;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
      }
      Reply reply = handler_(seen);
      if (reply.action == Reply::Action::silent) {
        char byte = 0;
        auto buf = asio::buffer(&byte, 1);
        co_await stream.async_read_some(buf, token);  // until the client gives up
        co_return;
      }
      auto out = asio::buffer(reply.raw);
      co_await asio::async_write(stream, out, token);
      if (ec || reply.action == Reply::Action::respond_and_close) co_return;
    }
  }

  Handler handler_;
  asio::ssl::context* tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
};

// --- client helpers ------------------------------------------------------------------------

HttpOptions fast_options() {
  HttpOptions o;
  o.connect_timeout = 2'000ms;
  o.total_timeout = 5'000ms;
  return o;
}

// Runs one request on a fresh io_context and returns its result.
Result<HttpResponse> run_one(HttpOptions options, HttpRequest request) {
  asio::io_context io;
  HttpClient client(io, std::move(options));
  std::optional<Result<HttpResponse>> result;
  auto task = [&]() -> asio::awaitable<void> {
    HttpRequest req = std::move(request);
    result = co_await client.send(std::move(req));
  };
  asio::co_spawn(io, task, asio::detached);
  io.run();
  EXPECT_TRUE(result.has_value());
  if (!result) return fail(ErrorKind::internal, "request never completed");
  return std::move(*result);
}

HttpRequest get(std::string url) {
  HttpRequest r;
  r.url = std::move(url);
  return r;
}

// A port on 127.0.0.1 that nothing listens on.
unsigned short closed_port() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const unsigned short port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The test servers are local: never send them to a proxy from the environment.
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
  }
};

// --- tests ---------------------------------------------------------------------------------

TEST_F(HttpClientTest, GetRoundTripsHeadersAndBody) {
  TestServer server([](const SeenRequest& r) {
    return Reply{response(200, "OK",
                          {"Content-Type: text/plain", "X-Echo: " + r.headers.at("x-request-id")},
                          "hello " + r.target)};
  });
  HttpRequest req = get(server.url("/v1/quotes?symbol=AAPL&day=2024-01-02"));
  req.headers = {{"X-Request-Id", "abc-123"}, {"Accept", "application/json"}};

  Result<HttpResponse> res = run_one(fast_options(), std::move(req));

  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello /v1/quotes?symbol=AAPL&day=2024-01-02");
  ASSERT_NE(res->header("content-type"), nullptr);
  EXPECT_EQ(*res->header("content-type"), "text/plain");
  ASSERT_NE(res->header("x-echo"), nullptr);
  EXPECT_EQ(*res->header("x-echo"), "abc-123");
  EXPECT_EQ(res->header("X-Echo"), nullptr);  // lookups take lower-case names
  EXPECT_GT(res->elapsed.count(), 0);

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/v1/quotes?symbol=AAPL&day=2024-01-02");
  EXPECT_EQ(seen[0].headers.at("x-request-id"), "abc-123");
  EXPECT_EQ(seen[0].headers.at("accept"), "application/json");
  EXPECT_EQ(seen[0].headers.at("user-agent"), "finsync/0.1");
  EXPECT_EQ(seen[0].body, "");
}

TEST_F(HttpClientTest, PostSendsBody) {
  TestServer server([](const SeenRequest& r) {
    return Reply{response(201, "Created", {}, std::to_string(r.body.size()))};
  });
  HttpRequest req;
  req.method = "POST";
  req.url = server.url("/submit");
  req.headers = {{"Content-Type", "application/json"}};
  req.body = std::string("{\"a\":1,\"nul\":\"") + std::string(1, '\0') + "\"}";

  Result<HttpResponse> res = run_one(fast_options(), req);

  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, "17");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, req.body);
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(seen[0].headers.at("content-length"), "17");
}

TEST_F(HttpClientTest, OtherMethodsUseCustomRequest) {
  TestServer server(
      [](const SeenRequest& r) { return Reply{response(200, "OK", {}, r.method + ":" + r.body)}; });
  HttpRequest put;
  put.method = "PUT";
  put.url = server.url("/item/1");
  put.body = "payload";
  HttpRequest del;
  del.method = "DELETE";
  del.url = server.url("/item/1");

  Result<HttpResponse> put_res = run_one(fast_options(), std::move(put));
  Result<HttpResponse> del_res = run_one(fast_options(), std::move(del));

  ASSERT_TRUE(put_res.has_value()) << put_res.error().message;
  ASSERT_TRUE(del_res.has_value()) << del_res.error().message;
  EXPECT_EQ(put_res->body, "PUT:payload");
  EXPECT_EQ(del_res->body, "DELETE:");
}

TEST_F(HttpClientTest, HttpErrorStatusIsAResponseNotAnError) {
  TestServer server([](const SeenRequest&) {
    return Reply{response(503, "Service Unavailable", {"Retry-After: 7"}, "busy")};
  });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/")));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "busy");
  ASSERT_NE(res->header("retry-after"), nullptr);
  EXPECT_EQ(*res->header("retry-after"), "7");
}

TEST_F(HttpClientTest, RedirectsAreReturnedNotFollowed) {
  TestServer server([](const SeenRequest&) {
    return Reply{response(302, "Found", {"Location: /elsewhere"}, "")};
  });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/start")));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 302);
  ASSERT_NE(res->header("location"), nullptr);
  EXPECT_EQ(*res->header("location"), "/elsewhere");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpClientTest, ConcurrentRequestsReuseAtMostMaxConnections) {
  TestServer server([](const SeenRequest& r) { return Reply{response(200, "OK", {}, r.target)}; });
  HttpOptions options = fast_options();
  options.max_connections = 4;
  asio::io_context io;
  HttpClient client(io, options);
  constexpr int kRequests = 50;
  std::vector<std::optional<Result<HttpResponse>>> results(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    auto task = [&, i]() -> asio::awaitable<void> {
      HttpRequest req = get(server.url("/n/" + std::to_string(i)));
      results[i] = co_await client.send(std::move(req));
    };
    asio::co_spawn(io, task, asio::detached);
  }
  io.run();

  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(results[i]->has_value()) << (*results[i]).error().message;
    EXPECT_EQ((*results[i])->status, 200);
    EXPECT_EQ((*results[i])->body, "/n/" + std::to_string(i));
  }
  EXPECT_EQ(server.requests().size(), static_cast<size_t>(kRequests));
  EXPECT_GE(server.connections(), 1);
  EXPECT_LE(server.connections(), 4);
}

TEST_F(HttpClientTest, SequentialRequestsReuseOneConnection) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "x")}; });
  asio::io_context io;
  HttpClient client(io, fast_options());
  int ok = 0;
  auto task = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 10; ++i) {
      HttpRequest req = get(server.url("/seq"));
      Result<HttpResponse> res = co_await client.send(std::move(req));
      if (res && res->status == 200) ++ok;
    }
  };
  asio::co_spawn(io, task, asio::detached);
  io.run();
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(server.connections(), 1);
}

// gzip.compress(b"finsync gzip payload: " + b"abcdefgh" * 16, mtime=0)
const unsigned char kGzipBody[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x4b,
                                   0xcb, 0xcc, 0x2b, 0xae, 0xcc, 0x4b, 0x56, 0x48, 0xaf, 0xca, 0x2c,
                                   0x50, 0x28, 0x48, 0xac, 0xcc, 0xc9, 0x4f, 0x4c, 0xb1, 0x52, 0x48,
                                   0x4c, 0x4a, 0x4e, 0x49, 0x4d, 0x4b, 0xcf, 0x18, 0x28, 0x1a, 0x00,
                                   0xf5, 0xf0, 0x6a, 0x8d, 0x96, 0x00, 0x00, 0x00};

TEST_F(HttpClientTest, AdvertisesGzipAndDecodesGzipBody) {
  TestServer server([](const SeenRequest&) {
    std::string body(reinterpret_cast<const char*>(kGzipBody), sizeof(kGzipBody));
    return Reply{response(200, "OK", {"Content-Encoding: gzip"}, body)};
  });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/gz")));

  ASSERT_TRUE(res.has_value()) << res.error().message;
  std::string expected = "finsync gzip payload: ";
  for (int i = 0; i < 16; ++i) expected += "abcdefgh";
  EXPECT_EQ(res->body, expected);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_EQ(seen[0].headers.count("accept-encoding"), 1u);
  EXPECT_THAT(seen[0].headers.at("accept-encoding"), HasSubstr("gzip"));
  EXPECT_THAT(seen[0].headers.at("accept-encoding"), HasSubstr("deflate"));
}

TEST_F(HttpClientTest, ResponseHeadersAreLowerCasedAndLastResponseWins) {
  TestServer server([](const SeenRequest&) {
    std::string raw =
        "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n"
        "HTTP/1.1 200 OK\r\nX-Final-Header: Mixed Case Value \r\nSET-COOKIE: a=1\r\n"
        "Set-Cookie: b=2\r\nContent-Length: 4\r\n\r\nbody";
    return Reply{raw};
  });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/h")));

  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "body");
  const Headers expected = {{"x-final-header", "Mixed Case Value"},
                            {"set-cookie", "a=1"},
                            {"set-cookie", "b=2"},
                            {"content-length", "4"}};
  EXPECT_EQ(res->headers, expected);
  EXPECT_EQ(res->header("x-interim"), nullptr);
  ASSERT_NE(res->header("set-cookie"), nullptr);
  EXPECT_EQ(*res->header("set-cookie"), "a=1");  // the first of repeated headers
}

TEST_F(HttpClientTest, ClosedPortIsUnreachable) {
  const unsigned short port = closed_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  const auto start = std::chrono::steady_clock::now();

  Result<HttpResponse> res = run_one(fast_options(), get(url));

  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::unreachable);
  EXPECT_THAT(res.error().message, HasSubstr("GET " + url + " failed: "));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // refused, not timed out
}

TEST_F(HttpClientTest, SilentServerTimesOutAsUnreachable) {
  TestServer server([](const SeenRequest&) { return Reply{"", Reply::Action::silent}; });
  HttpOptions options = fast_options();
  options.total_timeout = 500ms;
  const auto start = std::chrono::steady_clock::now();

  Result<HttpResponse> res = run_one(options, get(server.url("/never")));

  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::unreachable);
  EXPECT_THAT(res.error().message, HasSubstr("accepted the connection but sent no response"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpClientTest, StalledResponseAfterFirstBytesIsTransient) {
  TestServer server([](const SeenRequest&) {
    // headers and part of the body, then nothing: the total timeout fires mid-response
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                 Reply::Action::respond};
  });
  HttpOptions options = fast_options();
  options.total_timeout = 500ms;
  Result<HttpResponse> res = run_one(options, get(server.url("/stall")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::transient);
  EXPECT_THAT(res.error().message, HasSubstr("Timeout was reached"));
}

TEST_F(HttpClientTest, ConnectionClosedMidBodyIsTransient) {
  TestServer server([](const SeenRequest&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
                 Reply::Action::respond_and_close};
  });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/cut")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::transient);
  EXPECT_THAT(res.error().message, HasSubstr("Transferred a partial file"));
}

TEST_F(HttpClientTest, ConnectionClosedWithoutResponseIsTransient) {
  TestServer server([](const SeenRequest&) { return Reply{"", Reply::Action::respond_and_close}; });
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/empty")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::transient);
  EXPECT_THAT(res.error().message, HasSubstr("Server returned nothing"));
}

TEST_F(HttpClientTest, ProxyIsTakenFromTheEnvironment) {
  TestServer proxy([](const SeenRequest& r) { return Reply{response(200, "OK", {}, r.target)}; });
  setenv("http_proxy", proxy.url("").c_str(), 1);
  Result<HttpResponse> res = run_one(fast_options(), get("http://quotes.example.invalid/v1?x=1"));
  unsetenv("http_proxy");

  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->body, "http://quotes.example.invalid/v1?x=1");  // absolute-form: via the proxy
  const auto seen = proxy.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.at("host"), "quotes.example.invalid");
}

TEST_F(HttpClientTest, HostNamesAreResolved) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "named")}; });
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/";
  Result<HttpResponse> res = run_one(fast_options(), get(url));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->body, "named");
}

TEST_F(HttpClientTest, UrlCredentialsAreMaskedInErrors) {
  const std::string url =
      "http://user:hunter2secret@127.0.0.1:" + std::to_string(closed_port()) + "/q?token=abc123";
  Result<HttpResponse> res = run_one(fast_options(), get(url));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::unreachable);
  EXPECT_THAT(res.error().message, Not(HasSubstr("hunter2secret")));
  EXPECT_THAT(res.error().message, Not(HasSubstr("abc123")));
}

TEST_F(HttpClientTest, InvalidRequestsAreRejected) {
  HttpRequest bad_header = get("http://127.0.0.1:1/");
  bad_header.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  HttpRequest bad_method = get("http://127.0.0.1:1/");
  bad_method.method = "GET /x";
  HttpRequest no_url;
  HttpRequest other_protocol = get("file:///etc/passwd");

  Result<HttpResponse> r1 = run_one(fast_options(), std::move(bad_header));
  Result<HttpResponse> r2 = run_one(fast_options(), std::move(bad_method));
  Result<HttpResponse> r3 = run_one(fast_options(), std::move(no_url));
  Result<HttpResponse> r4 = run_one(fast_options(), std::move(other_protocol));

  ASSERT_FALSE(r1.has_value());
  ASSERT_FALSE(r2.has_value());
  ASSERT_FALSE(r3.has_value());
  ASSERT_FALSE(r4.has_value());
  EXPECT_EQ(r1.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r2.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r3.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(r4.error().kind, ErrorKind::invalid_input);
}

TEST_F(HttpClientTest, DestroyingClientCancelsTransfersInFlight) {
  TestServer server([](const SeenRequest&) { return Reply{"", Reply::Action::silent}; });
  asio::io_context io;
  auto client = std::make_unique<HttpClient>(io, fast_options());
  std::vector<std::optional<Result<HttpResponse>>> results(3);
  for (int i = 0; i < 3; ++i) {
    auto task = [&, i]() -> asio::awaitable<void> {
      HttpRequest req = get(server.url("/hang"));
      results[i] = co_await client->send(std::move(req));
    };
    asio::co_spawn(io, task, asio::detached);
  }
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server.requests().size() < 3 && std::chrono::steady_clock::now() < deadline)
    io.run_for(10ms);
  ASSERT_EQ(server.requests().size(), 3u);

  client.reset();
  io.run();  // returns: nothing may be left waiting

  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->has_value());
    EXPECT_EQ(r->error().kind, ErrorKind::cancelled);
  }
}

TEST_F(HttpClientTest, CancellationSlotCancelsOneRequest) {
  TestServer server([](const SeenRequest& r) {
    if (r.target == "/hang") return Reply{"", Reply::Action::silent};
    return Reply{response(200, "OK", {}, "fine")};
  });
  asio::io_context io;
  HttpClient client(io, fast_options());
  std::optional<Result<HttpResponse>> hung, fine;
  asio::cancellation_signal signal;
  auto hang_task = [&]() -> asio::awaitable<void> {
    HttpRequest req = get(server.url("/hang"));
    hung = co_await client.send(std::move(req));
  };
  asio::co_spawn(io, hang_task, asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::steady_timer timer(io, 200ms);
  timer.async_wait(
      [&](const boost::system::error_code&) { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  ASSERT_TRUE(hung.has_value());
  ASSERT_FALSE(hung->has_value());
  EXPECT_EQ(hung->error().kind, ErrorKind::cancelled);

  // The client stays usable.
  io.restart();
  auto fine_task = [&]() -> asio::awaitable<void> {
    HttpRequest req = get(server.url("/ok"));
    fine = co_await client.send(std::move(req));
  };
  asio::co_spawn(io, fine_task, asio::detached);
  io.run();
  ASSERT_TRUE(fine.has_value());
  ASSERT_TRUE(fine->has_value()) << (*fine).error().message;
  EXPECT_EQ((*fine)->body, "fine");
}

// --- TLS -----------------------------------------------------------------------------------

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

// A self-signed certificate for IP 127.0.0.1 (also its own CA).
TestCert make_test_cert() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("finsync test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, x);
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  TestCert out{bio_to_string(cert_bio), bio_to_string(key_bio)};
  BIO_free(cert_bio);
  BIO_free(key_bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    HttpClientTest::SetUp();
    cert_ = make_test_cert();
    tls_.use_certificate_chain(asio::buffer(cert_.cert_pem));
    tls_.use_private_key(asio::buffer(cert_.key_pem), asio::ssl::context::pem);
    ca_path_ = std::filesystem::temp_directory_path() /
               ("finsync_http_test_ca_" + std::to_string(::getpid()) + ".pem");
    std::ofstream(ca_path_) << cert_.cert_pem;
  }
  void TearDown() override { std::filesystem::remove(ca_path_); }

  TestCert cert_;
  asio::ssl::context tls_{asio::ssl::context::tls_server};
  std::filesystem::path ca_path_;
};

TEST_F(HttpClientTlsTest, UnknownCaFailsVerificationAsUnreachable) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "secure")}; },
                    &tls_);
  Result<HttpResponse> res = run_one(fast_options(), get(server.url("/", "https")));
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().kind, ErrorKind::unreachable);
  EXPECT_THAT(res.error().message, HasSubstr("verification failed"));
  EXPECT_THAT(res.error().message, HasSubstr("`ca_file`"));
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpClientTlsTest, CaFileTrustsTheServer) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "secure")}; },
                    &tls_);
  HttpOptions options = fast_options();
  options.ca_file = ca_path_.string();
  Result<HttpResponse> res = run_one(options, get(server.url("/", "https")));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "secure");
}

TEST_F(HttpClientTlsTest, VerificationCanBeTurnedOff) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "secure")}; },
                    &tls_);
  HttpOptions options = fast_options();
  options.verify_tls = false;
  Result<HttpResponse> res = run_one(options, get(server.url("/", "https")));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->body, "secure");
}

// --- classification table ------------------------------------------------------------------

TEST(HttpErrorClassification, CurlCodesMapToErrorKinds) {
  using detail::classify_curl_error;
  const detail::TransferFacts none{};
  const detail::TransferFacts connected_silent{true, false};
  const detail::TransferFacts partial{true, true};
  EXPECT_EQ(classify_curl_error(CURLE_COULDNT_CONNECT, none), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_COULDNT_RESOLVE_HOST, none), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_COULDNT_RESOLVE_PROXY, none), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_OPERATION_TIMEDOUT, none), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_OPERATION_TIMEDOUT, connected_silent),
            ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_OPERATION_TIMEDOUT, partial), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_SSL_CONNECT_ERROR, connected_silent), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_PEER_FAILED_VERIFICATION, connected_silent),
            ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_SSL_CACERT_BADFILE, none), ErrorKind::unreachable);
  EXPECT_EQ(classify_curl_error(CURLE_GOT_NOTHING, connected_silent), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_PARTIAL_FILE, partial), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_RECV_ERROR, partial), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_SEND_ERROR, connected_silent), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_HTTP2, partial), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_HTTP2_STREAM, partial), ErrorKind::transient);
  EXPECT_EQ(classify_curl_error(CURLE_URL_MALFORMAT, none), ErrorKind::invalid_input);
  EXPECT_EQ(classify_curl_error(CURLE_UNSUPPORTED_PROTOCOL, none), ErrorKind::invalid_input);
  EXPECT_EQ(classify_curl_error(CURLE_OUT_OF_MEMORY, none), ErrorKind::internal);
}

TEST(HttpErrorClassification, MessageNamesMethodUrlAndCurlError) {
  const Error e = detail::make_transfer_error(
      "GET", "http://example.invalid/a?x=1", CURLE_COULDNT_RESOLVE_HOST,
      "Could not resolve host: example.invalid", detail::TransferFacts{});
  EXPECT_EQ(e.kind, ErrorKind::unreachable);
  EXPECT_EQ(e.message,
            "GET http://example.invalid/a?x=1 failed: Couldn't resolve host name (Could not "
            "resolve host: example.invalid)");
}

// --- throughput (run with --gtest_also_run_disabled_tests) ---------------------------------

TEST_F(HttpClientTest, DISABLED_ThroughputSmallGets) {
  TestServer server([](const SeenRequest&) { return Reply{response(200, "OK", {}, "ok")}; });
  HttpOptions options = fast_options();
  options.max_connections = 4;
  asio::io_context io;
  HttpClient client(io, options);
  constexpr int kWorkers = 4;
  constexpr int kPerWorker = 500;
  std::atomic<int> ok{0};
  for (int w = 0; w < kWorkers; ++w) {
    auto worker = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < kPerWorker; ++i) {
        HttpRequest req = get(server.url("/small"));
        Result<HttpResponse> res = co_await client.send(std::move(req));
        if (res && res->status == 200) ++ok;
      }
    };
    asio::co_spawn(io, worker, asio::detached);
  }
  const auto start = std::chrono::steady_clock::now();
  io.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok.load(), kWorkers * kPerWorker);
  std::printf("%d GETs, %d in flight, %d connections: %.3f s, %.0f requests/s\n",
              kWorkers * kPerWorker, kWorkers, server.connections(), seconds,
              kWorkers * kPerWorker / seconds);
}

}  // namespace
}  // namespace finsync::net
