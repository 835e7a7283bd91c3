#include "sink/dolphindb/ddb_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "sink/dolphindb/ddb_protocol.hpp"

namespace finsync::sink::dolphindb {

namespace {

constexpr size_t kReadChunk = 64 * 1024;

void set_timeout(int fd, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

Result<std::unique_ptr<Client>> Client::open(const Dsn& dsn, std::chrono::seconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(dsn.port);
  if (int rc = getaddrinfo(dsn.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return fail(ErrorKind::unreachable,
                fmt::format("cannot resolve {}: {}", dsn.host, gai_strerror(rc)));
  int fd = -1;
  int last = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    // Linux bounds connect() by the send timeout.
    set_timeout(fd, std::chrono::seconds(10));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = errno;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd < 0)
    return fail(ErrorKind::unreachable, fmt::format("cannot connect to {}:{}: {}", dsn.host,
                                                    dsn.port, std::strerror(last)));
  set_timeout(fd, timeout);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<Client> c(new Client(fd, dsn));
  auto r = c->request(connect_command(dsn.user, dsn.password), {}, true);
  if (!r) return fail(r.error());
  return c;
}

Client::~Client() {
  close_fd();
}

void Client::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Object> Client::run(std::string_view script) {
  return request(script_command(script), {}, false);
}

Result<Object> Client::call(std::string_view function, size_t count, std::string_view args) {
  return request(function_command(function, count), args, false);
}

Error Client::broken(std::string_view what) const {
  return Error{ErrorKind::transient,
               fmt::format("the connection to {}:{} broke ({})", dsn_.host, dsn_.port, what),
               {}};
}

Result<void> Client::send_all(std::string_view bytes) {
  if (fd_ < 0) return tl::unexpected(broken("closed after an earlier failure"));
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      close_fd();
      return tl::unexpected(broken(e == EAGAIN ? "send timed out" : std::strerror(e)));
    }
    bytes.remove_prefix(size_t(n));
  }
  return {};
}

Result<void> Client::read_exact(char* dst, size_t n) {
  while (n > 0) {
    if (at_ == buf_.size()) {
      if (fd_ < 0) return tl::unexpected(broken("closed after an earlier failure"));
      buf_.resize(kReadChunk);
      at_ = 0;
      ssize_t got;
      do {
        got = ::recv(fd_, buf_.data(), buf_.size(), 0);
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {
        const int e = errno;
        buf_.clear();
        close_fd();
        return tl::unexpected(broken(got == 0      ? "closed by the server"
                                     : e == EAGAIN ? "no answer before the timeout"
                                                   : std::strerror(e)));
      }
      buf_.resize(size_t(got));
    }
    const size_t take = std::min(n, buf_.size() - at_);
    std::memcpy(dst, buf_.data() + at_, take);
    at_ += take;
    dst += take;
    n -= take;
  }
  return {};
}

Result<std::string> Client::read_line() {
  std::string line;
  for (char c;;) {
    if (auto r = read_exact(&c, 1); !r) return fail(r.error());
    if (c == '\n') return line;
    line.push_back(c);
  }
}

Result<Object> Client::request(std::string_view command, std::string_view args, bool login) {
  if (auto r = send_all(frame(session_, command, args)); !r) return fail(r.error());
  auto line = read_line();
  if (!line) return fail(line.error());
  // print() output of the script, before the answer.
  while (*line == "MSG") {
    for (char c = 1; c != '\0';)
      if (auto r = read_exact(&c, 1); !r) return fail(r.error());
    line = read_line();
    if (!line) return fail(line.error());
  }
  AnswerHeader h;
  if (!parse_answer_header(*line, h)) {
    close_fd();
    return fail(ErrorKind::permanent,
                fmt::format("{}:{} answered '{}', not a DolphinDB API answer header", dsn_.host,
                            dsn_.port, line->substr(0, 80)));
  }
  if (!h.little_endian) {
    close_fd();
    return fail(ErrorKind::permanent,
                fmt::format("{}:{} answers big endian, which this client does not read", dsn_.host,
                            dsn_.port));
  }
  session_ = h.session;
  auto status = read_line();
  if (!status) return fail(status.error());
  if (*status != "OK") {
    if (login)
      return fail(ErrorKind::auth,
                  fmt::format("the server refused the login of user '{}': {}", dsn_.user, *status));
    return fail(ErrorKind::permanent, fmt::format("the server says: {}", *status));
  }
  if (h.objects == 0) return Object{};
  ReadExact read = [this](char* dst, size_t n) { return read_exact(dst, n); };
  auto o = decode(read);
  if (!o && o.error().kind != ErrorKind::transient) close_fd();
  for (int i = 1; o && i < h.objects; ++i)
    if (auto more = decode(read); !more) return more;
  return o;
}

}  // namespace finsync::sink::dolphindb
