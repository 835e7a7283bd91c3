#pragma once
// One TCP connection to a DolphinDB server speaking the API protocol (ddb_protocol.hpp): the
// first message opens a session and logs in, later ones run scripts and call functions in it.
// Requests are answered one at a time, in order.
//
// Errors: unreachable (no server at host:port), auth (the login was refused), transient (the
// connection broke or timed out: the framework reconnects and re-runs the landing), permanent
// (the server's error message for a script or call, or an answer the client cannot read; the
// connection is closed after the latter). Messages never hold the password.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "sink/dolphindb/ddb_codec.hpp"
#include "sink/dolphindb/ddb_dsn.hpp"

namespace finsync::sink::dolphindb {

class Client {
 public:
  // Connects and logs in as dsn.user.
  static Result<std::unique_ptr<Client>> open(
      const Dsn& dsn, std::chrono::seconds timeout = std::chrono::minutes(10));
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The result of a script (void when it has none).
  Result<Object> run(std::string_view script);
  // Calls `function` (a name or a partial application such as `tableInsert{t}`) with
  // `count` arguments already encoded one after the other in `args`.
  Result<Object> call(std::string_view function, size_t count, std::string_view args);

  const std::string& session() const { return session_; }

 private:
  Client(int fd, Dsn dsn) : fd_(fd), dsn_(std::move(dsn)) {}
  Result<Object> request(std::string_view command, std::string_view args, bool login);
  Result<void> send_all(std::string_view bytes);
  Result<void> read_exact(char* dst, size_t n);
  Result<std::string> read_line();
  Error broken(std::string_view what) const;
  void close_fd();

  int fd_ = -1;
  Dsn dsn_;
  std::string session_ = "0";
  std::string buf_;
  size_t at_ = 0;
};

}  // namespace finsync::sink::dolphindb
