// libcurl multi driven by Asio, following libcurl's "multi_socket" event-loop integration
// (docs/examples/hiperfifo.c, asiohiper.cpp):
//  - CURLMOPT_SOCKETFUNCTION tells us which sockets curl wants watched for reading/writing; each
//    is an Asio descriptor on which we async_wait and then call curl_multi_socket_action;
//  - CURLMOPT_TIMERFUNCTION sets one steady_timer; on expiry we call curl_multi_socket_action
//    with CURL_SOCKET_TIMEOUT;
//  - after every action, curl_multi_info_read reports finished transfers, which complete the
//    coroutines waiting in send().
// Sockets for connections are opened and closed by us (CURLOPT_OPENSOCKETFUNCTION /
// CLOSESOCKETFUNCTION), so Asio owns those descriptors for their whole life. Descriptors curl
// creates on its own (the threaded resolver's socketpair) are only borrowed: they are released,
// never closed, when curl stops watching them.
// Everything runs on the io_context thread; nothing here is locked.
#include "net/http_client.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include <curl/curl.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/secrets.hpp"
#include "net/curl_error.hpp"

namespace finsync::net {

namespace asio = boost::asio;

const std::string* HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return &value;
  return nullptr;
}

namespace detail {
namespace {

// curl_global_init once per process, before the first handle; cleaned up at exit.
struct CurlGlobal {
  CurlGlobal() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_curl_global() {
  static CurlGlobal global;
}

bool is_token_char(unsigned char c) {
  // RFC 9110 tchar
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_token_char(static_cast<unsigned char>(c));
  });
}

bool has_line_break(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// One watched socket. Owned descriptors were opened by our open-socket callback and are closed
// by the close-socket callback; borrowed ones belong to curl and are only released.
struct Socket {
  Socket(asio::io_context& io, curl_socket_t fd, bool owned)
      : descriptor(io), fd(fd), owned(owned) {}

  asio::posix::stream_descriptor descriptor;
  curl_socket_t fd;
  bool owned;
  int want = 0;          // CURL_POLL_IN / CURL_POLL_OUT bits curl currently asks for
  bool reading = false;  // an async_wait(wait_read) is pending
  bool writing = false;  // an async_wait(wait_write) is pending
  bool closed = false;   // closed or released: pending handlers must not touch curl

  void shut() {
    closed = true;
    boost::system::error_code ec;
    if (owned) {
      descriptor.close(ec);
    } else if (descriptor.is_open()) {
      descriptor.release();
    }
  }
};

}  // namespace detail

struct HttpClient::Impl {
  using Socket = detail::Socket;

  // One request. Lives in the send() coroutine frame; the multi handle knows it through
  // CURLOPT_PRIVATE while it is attached (owner != nullptr).
  struct Transfer {
    explicit Transfer(asio::io_context& io)
        : done_event(io, asio::steady_timer::time_point::max()) {}
    ~Transfer();
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    Impl* owner = nullptr;
    CURL* easy = nullptr;
    curl_slist* header_list = nullptr;
    HttpRequest request;
    HttpResponse response;
    std::array<char, CURL_ERROR_SIZE> errbuf{};
    // Completion event: a timer that never expires, cancelled when the transfer is done.
    asio::steady_timer done_event;
    bool done = false;
    std::optional<Result<HttpResponse>> result;
  };

  Impl(asio::io_context& io_context, HttpOptions opts)
      : io(io_context), options(std::move(opts)), timer(io_context) {
    detail::ensure_curl_global();
    multi = curl_multi_init();
    if (multi == nullptr) throw std::runtime_error("curl_multi_init failed");
    const long max_conn = std::max(0L, options.max_connections);  // 0 = unlimited
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_curl_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_curl_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_conn);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conn);
    if (max_conn > 0) curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, max_conn);
  }

  ~Impl() {
    alive.reset();  // handlers already queued become no-ops
    // Transfers in flight complete with `cancelled`; their coroutines resume (if the io_context
    // runs again) without touching this object.
    for (Transfer* t : transfers) {
      curl_multi_remove_handle(multi, t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = nullptr;
      t->owner = nullptr;
      t->result = cancelled_error(*t, "the HTTP client was destroyed");
      complete(*t);
    }
    transfers.clear();
    curl_multi_cleanup(multi);  // closes cached connections through on_close_socket
    for (auto& [fd, socket] : sockets) socket->shut();
    sockets.clear();
    timer.cancel();
  }

  // --- transfers --------------------------------------------------------------------------

  Result<void> start(Transfer& t, HttpRequest&& req) {
    t.request = std::move(req);
    const HttpRequest& r = t.request;
    if (r.url.empty()) return fail(ErrorKind::invalid_input, "HTTP request without a URL");
    if (!detail::is_token(r.method))
      return fail(ErrorKind::invalid_input, "invalid HTTP method '" + secrets::mask(r.method) +
                                                "' for " + secrets::mask(r.url));
    if (detail::has_line_break(r.url))
      return fail(ErrorKind::invalid_input, "HTTP URL contains a line break");
    for (const auto& [name, value] : r.headers) {
      if (!detail::is_token(name) || detail::has_line_break(value))
        return fail(ErrorKind::invalid_input, "invalid HTTP header '" + secrets::mask(name) +
                                                  "' for " + r.method + " " + secrets::mask(r.url));
    }

    t.easy = curl_easy_init();
    if (t.easy == nullptr) return fail(ErrorKind::internal, "curl_easy_init failed");
    bool has_expect = false;
    auto add_header = [&t](const std::string& line) {
      curl_slist* next = curl_slist_append(t.header_list, line.c_str());
      if (next != nullptr) t.header_list = next;
      return next != nullptr;
    };
    for (const auto& [name, value] : r.headers) {
      has_expect = has_expect || detail::lower(name) == "expect";
      // "Name;" sends an empty header; "Name:" would only remove a curl default header.
      if (!add_header(value.empty() ? name + ";" : name + ": " + value))
        return fail(ErrorKind::internal, "curl_slist_append failed");
    }
    // curl sends "Expect: 100-continue" before large bodies and then waits up to a second for
    // servers that ignore it; APIs gain nothing from it. The caller can still ask for it.
    if (!has_expect && !add_header("Expect:"))
      return fail(ErrorKind::internal, "curl_slist_append failed");

    CURLcode rc = configure(t);
    if (rc != CURLE_OK)
      return fail(ErrorKind::internal, "cannot configure " + r.method + " " + secrets::mask(r.url) +
                                           ": " + curl_easy_strerror(rc));
    CURLMcode mrc = curl_multi_add_handle(multi, t.easy);
    if (mrc != CURLM_OK)
      return fail(ErrorKind::internal, "cannot start " + r.method + " " + secrets::mask(r.url) +
                                           ": " + curl_multi_strerror(mrc));
    t.owner = this;
    transfers.insert(&t);
    return {};
  }

  CURLcode configure(Transfer& t) {
    CURL* e = t.easy;
    const HttpRequest& r = t.request;
    CURLcode rc = CURLE_OK;
    auto check = [&rc](CURLcode c) {
      if (rc == CURLE_OK) rc = c;
    };
    check(curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()));
    check(curl_easy_setopt(e, CURLOPT_PRIVATE, static_cast<void*>(&t)));
    check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf.data()));
    check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
#if LIBCURL_VERSION_NUM >= 0x075500
    check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
    check(curl_easy_setopt(e, CURLOPT_PROTOCOLS, long{CURLPROTO_HTTP | CURLPROTO_HTTPS}));
#endif
    check(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_2TLS}));
    check(curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""));  // every encoding curl decodes
    check(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));
    check(curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L));
    check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                           static_cast<long>(options.connect_timeout.count())));
    check(
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count())));
    check(curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes));
    check(curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                           static_cast<long>(options.low_speed_time.count())));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L));
    if (!options.ca_file.empty())
      check(curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str()));
    if (!options.user_agent.empty())
      check(curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str()));
    // No CURLOPT_PROXY: libcurl then honours http_proxy / https_proxy / all_proxy / no_proxy.

    check(curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::on_open_socket));
    check(curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, static_cast<void*>(this)));
    check(curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::on_close_socket));
    check(curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this)));
    check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_body));
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, static_cast<void*>(&t)));
    check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::on_header));
    check(curl_easy_setopt(e, CURLOPT_HEADERDATA, static_cast<void*>(&t)));
    if (t.header_list != nullptr) check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list));

    // The body stays in t.request (the coroutine frame) until the transfer is removed.
    if (r.method == "HEAD") {
      check(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
    } else if (r.method == "POST" || !r.body.empty()) {
      check(
          curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size())));
      check(curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data()));
      if (r.method != "POST") check(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str()));
    } else {
      check(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
      if (r.method != "GET") check(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str()));
    }
    return rc;
  }

  // Detaches a transfer from the multi handle without completing it.
  void detach(Transfer& t) {
    curl_multi_remove_handle(multi, t.easy);
    transfers.erase(&t);
    t.owner = nullptr;
  }

  // The awaiting coroutine was cancelled through its cancellation slot.
  void abandon(Transfer& t) {
    detach(t);
    t.result = cancelled_error(t, "the request was cancelled");
    t.done = true;
  }

  static tl::unexpected<Error> cancelled_error(const Transfer& t, std::string_view why) {
    return fail(ErrorKind::cancelled, t.request.method + " " + secrets::mask(t.request.url) +
                                          " cancelled: " + std::string(why));
  }

  static void complete(Transfer& t) {
    t.done = true;
    t.done_event.cancel();  // resumes the coroutine (posted, never inline)
  }

  void finish(Transfer& t, CURLcode code) {
    if (code == CURLE_OK) {
      long status = 0;
      curl_off_t total_us = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total_us);
      t.response.status = status;
      t.response.elapsed = std::chrono::microseconds(total_us);
      t.result = std::move(t.response);
    } else {
      curl_off_t connect_us = 0, pretransfer_us = 0, body_bytes = 0;
      long header_bytes = 0;
      curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connect_us);
      curl_easy_getinfo(t.easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
      curl_easy_getinfo(t.easy, CURLINFO_SIZE_DOWNLOAD_T, &body_bytes);
      curl_easy_getinfo(t.easy, CURLINFO_HEADER_SIZE, &header_bytes);
      detail::TransferFacts facts;
      facts.connected = connect_us > 0 || pretransfer_us > 0;
      facts.received_any = body_bytes > 0 || header_bytes > 0 || t.response.status != 0;
      t.result = tl::unexpected<Error>(detail::make_transfer_error(t.request.method, t.request.url,
                                                                   code, t.errbuf.data(), facts));
    }
    detach(t);
    complete(t);
  }

  void check_multi_info() {
    std::vector<std::pair<CURL*, CURLcode>> finished;
    int pending = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
      if (msg->msg == CURLMSG_DONE) finished.emplace_back(msg->easy_handle, msg->data.result);
    }
    for (auto [easy, code] : finished) {
      void* priv = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
      auto* t = static_cast<Transfer*>(priv);
      if (t != nullptr && transfers.count(t) != 0) finish(*t, code);
    }
  }

  // --- curl callbacks (called from inside curl_multi_* on the io_context thread) -----------

  static size_t on_body(char* data, size_t size, size_t count, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    t->response.body.append(data, size * count);
    return size * count;
  }

  static size_t on_header(char* data, size_t size, size_t count, void* userp) {
    auto* t = static_cast<Transfer*>(userp);
    const size_t n = size * count;
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {
      // A new status line (1xx, proxy CONNECT, redirect...): only the last response counts.
      t->response.headers.clear();
      return n;
    }
    if (line.empty()) return n;
    if ((line.front() == ' ' || line.front() == '\t') && !t->response.headers.empty()) {
      // obsolete line folding: continues the previous value
      std::string& value = t->response.headers.back().second;
      value += ' ';
      value += detail::trim(line);
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    t->response.headers.emplace_back(detail::lower(detail::trim(line.substr(0, colon))),
                                     std::string(detail::trim(line.substr(colon + 1))));
    return n;
  }

  static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
    auto* self = static_cast<Impl*>(clientp);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    const curl_socket_t fd =
        ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD) return CURL_SOCKET_BAD;
    if (auto stale = self->sockets.find(fd); stale != self->sockets.end()) {
      // curl closed a borrowed descriptor without telling us; forget it before reuse.
      stale->second->shut();
      self->sockets.erase(stale);
    }
    auto socket = std::make_shared<Socket>(self->io, fd, true);
    boost::system::error_code ec;
    socket->descriptor.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    self->sockets.emplace(fd, std::move(socket));
    return fd;
  }

  static int on_close_socket(void* clientp, curl_socket_t fd) {
    auto* self = static_cast<Impl*>(clientp);
    auto it = self->sockets.find(fd);
    if (it == self->sockets.end() || !it->second->owned) return ::close(fd);
    it->second->shut();
    self->sockets.erase(it);
    return 0;
  }

  static int on_curl_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    auto it = self->sockets.find(fd);
    if (what == CURL_POLL_REMOVE) {
      if (it == self->sockets.end()) return 0;
      Socket& s = *it->second;
      s.want = 0;
      if (s.owned) {
        boost::system::error_code ec;
        s.descriptor.cancel(ec);  // still open: curl may keep it for reuse and close it later
      } else {
        s.shut();  // borrowed: curl closes it right after this call
        self->sockets.erase(it);
      }
      return 0;
    }
    if (it == self->sockets.end()) {
      // A descriptor curl created itself (e.g. the resolver's socketpair): borrow it.
      auto socket = std::make_shared<Socket>(self->io, fd, false);
      boost::system::error_code ec;
      socket->descriptor.assign(fd, ec);
      if (ec) return -1;
      it = self->sockets.emplace(fd, std::move(socket)).first;
    }
    Socket& s = *it->second;
    s.want = what & (CURL_POLL_IN | CURL_POLL_OUT);
    if ((s.reading && !(s.want & CURL_POLL_IN)) || (s.writing && !(s.want & CURL_POLL_OUT))) {
      // A direction no longer wanted: cancel; the aborted handlers re-arm what still is.
      boost::system::error_code ec;
      s.descriptor.cancel(ec);
    }
    self->arm(it->second);
    return 0;
  }

  static int on_curl_timer(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (timeout_ms < 0) {
      self->timer.cancel();
      return 0;
    }
    // timeout 0 means "act now", but curl must not be re-entered from its callback: the timer
    // expires immediately and the handler runs from the io_context.
    self->timer.expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<void> guard = self->alive;
    self->timer.async_wait([self, guard](const boost::system::error_code& ec) {
      if (ec || guard.expired()) return;
      int running = 0;
      curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      self->check_multi_info();
    });
    return 0;
  }

  // --- socket readiness ---------------------------------------------------------------------

  void arm(const std::shared_ptr<Socket>& s) {
    if (s->closed) return;
    if ((s->want & CURL_POLL_IN) && !s->reading) {
      s->reading = true;
      wait(s, asio::posix::stream_descriptor::wait_read, CURL_CSELECT_IN);
    }
    if ((s->want & CURL_POLL_OUT) && !s->writing) {
      s->writing = true;
      wait(s, asio::posix::stream_descriptor::wait_write, CURL_CSELECT_OUT);
    }
  }

  void wait(const std::shared_ptr<Socket>& s, asio::posix::stream_descriptor::wait_type type,
            int direction) {
    std::weak_ptr<void> guard = alive;
    s->descriptor.async_wait(
        type, [this, s, guard, direction](const boost::system::error_code& ec) {
          if (guard.expired()) return;
          (direction == CURL_CSELECT_IN ? s->reading : s->writing) = false;
          if (s->closed) return;
          const int want_bit = direction == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
          if (ec != asio::error::operation_aborted && (s->want & want_bit)) {
            int running = 0;
            curl_multi_socket_action(multi, s->fd, ec ? direction | CURL_CSELECT_ERR : direction,
                                     &running);
            check_multi_info();
          }
          arm(s);  // no-op if curl closed the socket or no longer wants this direction
        });
  }

  asio::io_context& io;
  HttpOptions options;
  CURLM* multi = nullptr;
  asio::steady_timer timer;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets;
  std::unordered_set<Transfer*> transfers;
  std::shared_ptr<void> alive = std::make_shared<char>(0);  // handlers hold weak references
};

HttpClient::Impl::Transfer::~Transfer() {
  if (owner != nullptr) owner->detach(*this);  // frame destroyed while in flight
  if (easy != nullptr) curl_easy_cleanup(easy);
  curl_slist_free_all(header_list);
}

HttpClient::HttpClient(asio::io_context& io, HttpOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() = default;

asio::awaitable<Result<HttpResponse>> HttpClient::send(HttpRequest request) {
  // Only the transfer is touched after the co_await: the client may be gone by then, in which
  // case its destructor completed the transfer with `cancelled`.
  auto transfer = std::make_unique<Impl::Transfer>(impl_->io);
  Result<void> started = impl_->start(*transfer, std::move(request));
  if (!started) {
    Result<HttpResponse> failed = tl::unexpected<Error>(std::move(started.error()));
    co_return failed;
  }
  if (!transfer->done) {
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await transfer->done_event.async_wait(token);
  }
  if (!transfer->done) transfer->owner->abandon(*transfer);  // cancelled through the slot
  Result<HttpResponse> result = std::move(*transfer->result);
  co_return result;
}

}  // namespace finsync::net
