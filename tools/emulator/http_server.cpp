#include "http_server.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace emu {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kWriteTimeout = std::chrono::seconds(60);
constexpr auto kHandshakeTimeout = std::chrono::seconds(15);
constexpr std::uint64_t kBodyLimit = 1 << 20;

double unix_now() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return static_cast<double>(us.count()) / 1e6;
}

struct ServerState {
  std::shared_ptr<Personality> personality;
  std::shared_ptr<AuditLog> audit;
  std::chrono::milliseconds latency{0};
  bool hang = false;
  std::atomic<std::uint64_t> seq{0};
};

bool is_http_protocol_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// One connection. All handlers run on the connection's strand.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  explicit Session(std::shared_ptr<ServerState> state, Args&&... args)
      : stream_(std::forward<Args>(args)...),
        state_(std::move(state)),
        timer_(stream_.get_executor()) {}

  void start() {
    if constexpr (kTls) {
      lowest().expires_after(kHandshakeTimeout);
      stream_.async_handshake(ssl::stream_base::server,
                              beast::bind_front_handler(&Session::on_handshake, self()));
    } else {
      net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, self()));
    }
  }

 private:
  std::shared_ptr<Session> self() { return this->shared_from_this(); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void arm_read_timeout() {
    if (state_->hang) {
      lowest().expires_never();
    } else {
      lowest().expires_after(kIdleTimeout);
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) return abort();
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    arm_read_timeout();
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, self()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      lowest().expires_after(kWriteTimeout);
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&Session::on_continue, self()));
      return;
    }
    read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    if (ec) return abort();
    read_body();
  }

  void read_body() {
    arm_read_timeout();
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, self()));
  }

  void on_read_error(beast::error_code ec) {
    if (state_->hang) return abort();
    if (ec == http::error::body_limit) return reject(413, "Payload Too Large\n");
    if (is_http_protocol_error(ec)) return reject(400, "Bad Request\n");
    abort();  // end of stream, reset, timeout: nothing to answer
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    http::request<http::string_body> msg = parser_->release();
    started_ = std::chrono::steady_clock::now();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.body = std::move(msg.body());
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.arrival = unix_now();
    req.seq = ++state_->seq;
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();

    if (state_->hang) {
      reply_ = HttpReply{};
      reply_.audit.outcome = "hung";
      state_->personality->describe(req, reply_.audit);
      reply_.audit.t = req.arrival;
      reply_.audit.seq = req.seq;
      audit(std::nullopt);
      do_read();  // keep the connection, never answer
      return;
    }

    try {
      reply_ = state_->personality->handle(req);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "finsync-emulator: internal error on request %llu: %s\n",
                   static_cast<unsigned long long>(req.seq), e.what());
      reply_ = HttpReply{};
      reply_.http_status = 500;
      reply_.content_type = "text/plain";
      reply_.body = "internal emulator error\n";
      reply_.audit.outcome = "internal_error";
    }
    reply_.audit.t = req.arrival;
    reply_.audit.seq = req.seq;

    if (state_->latency.count() > 0) {
      timer_.expires_after(state_->latency);
      timer_.async_wait(beast::bind_front_handler(&Session::on_delay, self()));
      return;
    }
    send();
  }

  void on_delay(beast::error_code ec) {
    if (ec) return abort();
    send();
  }

  // Answers a request the HTTP parser rejected, then closes.
  void reject(int status, const char* text) {
    started_ = std::chrono::steady_clock::now();
    reply_ = HttpReply{};
    reply_.http_status = status;
    reply_.content_type = "text/plain";
    reply_.body = text;
    reply_.audit.outcome = "bad_request";
    reply_.audit.t = unix_now();
    reply_.audit.seq = ++state_->seq;
    version_ = 11;
    keep_alive_ = false;
    send();
  }

  void send() {
    if (reply_.fault == Fault::drop) {
      audit(std::nullopt);
      return abort();
    }
    if (reply_.fault == Fault::truncate) {
      const std::string& body = reply_.body;
      raw_ = fmt::format("HTTP/1.1 200 OK\r\nServer: finsync-emulator\r\nContent-Type: {}\r\n",
                         reply_.content_type);
      for (const auto& [name, value] : reply_.headers)
        raw_ += fmt::format("{}: {}\r\n", name, value);
      raw_ += fmt::format("Content-Length: {}\r\n\r\n", body.size());
      raw_.append(body, 0, body.size() / 2);
      audit(200);
      lowest().expires_after(kWriteTimeout);
      net::async_write(stream_, net::buffer(raw_),
                       beast::bind_front_handler(&Session::on_truncated, self()));
      return;
    }
    res_.emplace();
    res_->result(static_cast<unsigned>(reply_.http_status));
    // Beast knows no reason phrase for Binance's ban status.
    if (reply_.http_status == 418) res_->reason("I'm a teapot");
    res_->version(version_);
    res_->set(http::field::server, "finsync-emulator");
    res_->set(http::field::content_type, reply_.content_type);
    for (const auto& [name, value] : reply_.headers) res_->insert(name, value);
    res_->keep_alive(keep_alive_);
    res_->body() = std::move(reply_.body);
    res_->prepare_payload();
    audit(reply_.http_status);
    lowest().expires_after(kWriteTimeout);
    http::async_write(stream_, *res_, beast::bind_front_handler(&Session::on_write, self()));
  }

  void on_truncated(beast::error_code, std::size_t) { abort(); }

  void on_write(beast::error_code ec, std::size_t) {
    res_.reset();
    if (ec) return abort();
    if (!keep_alive_) return graceful_close();
    do_read();
  }

  // Written when the answer is handed to the socket (so a client holding an answer always
  // finds its line); latency_ms runs from arrival to that moment.
  void audit(std::optional<int> http_status) {
    if (!state_->audit) return;
    reply_.audit.http_status = http_status;
    reply_.audit.latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    state_->audit->write(reply_.audit);
  }

  void graceful_close() {
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(beast::bind_front_handler(&Session::on_shutdown, self()));
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  void on_shutdown(beast::error_code) { abort(); }

  // Closes at once (no TLS close_notify): used for errors, drops and truncation.
  void abort() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  Stream stream_;
  std::shared_ptr<ServerState> state_;
  net::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  std::string raw_;
  HttpReply reply_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  std::chrono::steady_clock::time_point started_{};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, tcp::acceptor acceptor, std::shared_ptr<ServerState> state,
           ssl::context* tls)
      : ioc_(ioc),
        acceptor_(std::move(acceptor)),
        state_(std::move(state)),
        tls_(tls),
        retry_(acceptor_.get_executor()) {}

  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

 private:
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls_ != nullptr) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(state_, std::move(socket),
                                                                      *tls_)
          ->start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(state_, std::move(socket))->start();
    }
    accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<ServerState> state_;
  ssl::context* tls_;
  net::steady_timer retry_;
};

bool write_port_file(const std::string& path, unsigned port) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  const std::string text = fmt::format("{}\n", port);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int run_server(const ServerConfig& config, std::shared_ptr<Personality> personality,
               std::shared_ptr<AuditLog> audit) {
  std::signal(SIGPIPE, SIG_IGN);

  // Declared before the io_context: sessions (destroyed with it) refer to the TLS context.
  std::optional<ssl::context> tls;
  if (!config.tls_cert.empty()) {
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->use_certificate_chain_file(config.tls_cert, ec);
    if (!ec) tls->use_private_key_file(config.tls_key, ssl::context::pem, ec);
    if (ec) {
      std::fprintf(stderr, "finsync-emulator: cannot load TLS certificate/key: %s\n",
                   ec.message().c_str());
      return 2;
    }
  }

  net::io_context ioc(config.threads);
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(config.host, ec);
  if (ec) {  // a host name: take its first address
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(config.host, "", ec);
    if (!ec && !results.empty()) address = results.begin()->endpoint().address();
    if (ec || results.empty()) {
      std::fprintf(stderr, "finsync-emulator: bad --host %s: %s\n", config.host.c_str(),
                   ec ? ec.message().c_str() : "no address");
      return 2;
    }
  }
  tcp::acceptor acceptor(net::make_strand(ioc));
  const tcp::endpoint endpoint(address, config.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "finsync-emulator: cannot listen on %s:%u: %s\n", config.host.c_str(),
                 static_cast<unsigned>(config.port), ec.message().c_str());
    return 2;
  }
  const unsigned port = acceptor.local_endpoint().port();

  auto state = std::make_shared<ServerState>();
  state->personality = std::move(personality);
  state->audit = std::move(audit);
  state->latency = std::chrono::milliseconds(config.latency_ms);
  state->hang = config.hang;
  auto listener =
      std::make_shared<Listener>(ioc, std::move(acceptor), state, tls ? &*tls : nullptr);
  listener->accept();

  const std::string host =
      address.is_v6() ? fmt::format("[{}]", address.to_string()) : address.to_string();
  std::printf("finsync-emulator listening on %s://%s:%u\n", tls ? "https" : "http", host.c_str(),
              port);
  std::fflush(stdout);
  // After the line above, so a test that sees the port file also sees the line.
  if (!config.port_file.empty() && !write_port_file(config.port_file, port)) {
    std::fprintf(stderr, "finsync-emulator: cannot write --port-file %s\n",
                 config.port_file.c_str());
    return 2;
  }

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  auto run = [&ioc] {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "finsync-emulator: handler error: %s\n", e.what());
      }
    }
  };
  std::vector<std::thread> workers;
  for (int i = 1; i < config.threads; ++i) workers.emplace_back(run);
  run();
  for (std::thread& t : workers) t.join();
  return 0;
}

}  // namespace emu
