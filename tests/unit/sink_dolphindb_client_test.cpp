// The dolphindb sink's connection (ddb_client.hpp) against a scripted loopback server: what it
// sends, how it reads answers (print() output first, objects, the server's error line), and the
// kind of each failure (a refused login is auth and names the user, never the password; no
// server is unreachable; a connection the server drops is transient).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "sink/dolphindb/ddb_client.hpp"
#include "sink/dolphindb/ddb_codec.hpp"

namespace finsync::sink::dolphindb {

using namespace std::string_literals;
namespace {

// Accepts one connection; for each scripted answer reads one request (header line + command of
// the length it declares; these tests send no arguments) and writes the answer. An empty answer
// closes the connection instead.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> answers) : answers_(std::move(answers)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 1);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(fd_);
  }
  unsigned port() const { return port_; }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    for (const auto& answer : answers_) {
      std::string req;
      char ch;
      while (::recv(c, &ch, 1, 0) == 1 && ch != '\n') req.push_back(ch);
      const size_t len = std::stoul(req.substr(req.find(' ', 5) + 1));
      req.push_back('\n');
      std::string command(len, '\0');
      size_t got = 0;
      while (got < len) {
        const ssize_t n = ::recv(c, command.data() + got, len - got, 0);
        if (n <= 0) break;
        got += size_t(n);
      }
      requests_.push_back(req + command);
      if (answer.empty()) break;
      ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
    ::close(c);
  }

  int fd_ = -1;
  unsigned port_ = 0;
  std::vector<std::string> answers_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

Dsn dsn_at(unsigned port) {
  Dsn d;
  d.user = "ops";
  d.password = "hunter2-secret";
  d.host = "127.0.0.1";
  d.port = port;
  return d;
}

std::string ok(const std::string& session, const Object* o) {
  std::string out = session + (o ? " 1 1\nOK\n" : " 0 1\nOK\n");
  if (o) encode(*o, out);
  return out;
}

TEST(SinkDolphindbClient, LogsInRunsScriptsAndSkipsPrintOutput) {
  const Object version = Object::string_scalar("3.00.1");
  std::vector<std::string> requests;
  {
    ScriptedServer server({ok("77", nullptr), "MSG\nhello from print\0"s + ok("77", &version),
                           "77 0 1\nSyntax Error: [line #1] nope\n"});
    auto c = Client::open(dsn_at(server.port()));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ((*c)->session(), "77");
    auto v = (*c)->run("version()");
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->strings, std::vector<std::string>{"3.00.1"});
    auto bad = (*c)->run("nope");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, ErrorKind::permanent);
    EXPECT_EQ(bad.error().message, "the server says: Syntax Error: [line #1] nope");
    c->reset();
    requests = server.requests();
  }
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0], "API2 0 32 / 0_1_4_64\nconnect\nlogin\nops\nhunter2-secret");
  EXPECT_EQ(requests[1], "API2 77 16 / 0_1_4_64\nscript\nversion()");
  EXPECT_EQ(requests[2], "API2 77 11 / 0_1_4_64\nscript\nnope");
}

TEST(SinkDolphindbClient, RefusedLoginIsAuthWithoutThePassword) {
  ScriptedServer server({"0 0 1\nThe user name or password is incorrect.\n"});
  auto c = Client::open(dsn_at(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::auth);
  EXPECT_EQ(c.error().message,
            "the server refused the login of user 'ops': The user name or password is "
            "incorrect.");
  EXPECT_EQ(c.error().message.find("hunter2"), std::string::npos);
}

TEST(SinkDolphindbClient, NoServerIsUnreachable) {
  unsigned port;
  {
    ScriptedServer server({""});
    port = server.port();
    // A connection so the server's thread ends; then the port has no listener.
    auto c = Client::open(dsn_at(port));
    EXPECT_FALSE(c);
  }
  auto c = Client::open(dsn_at(port));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::unreachable);
  EXPECT_NE(c.error().message.find("cannot connect to 127.0.0.1:"), std::string::npos);
}

TEST(SinkDolphindbClient, ADroppedConnectionIsTransient) {
  ScriptedServer server({ok("5", nullptr), ""});
  auto c = Client::open(dsn_at(server.port()));
  ASSERT_TRUE(c) << c.error().message;
  auto r = (*c)->run("version()");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::transient);
  EXPECT_EQ(r.error().message, "the connection to 127.0.0.1:" + std::to_string(server.port()) +
                                   " broke (closed by the server)");
  auto again = (*c)->run("version()");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::transient);
}

TEST(SinkDolphindbClient, AnAnswerThatIsNotTheProtocolIsPermanent) {
  ScriptedServer server({"HTTP/1.1 400 Bad Request\r\n\r\n"});
  auto c = Client::open(dsn_at(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::permanent);
  EXPECT_NE(c.error().message.find("not a DolphinDB API answer header"), std::string::npos);
}

}  // namespace
}  // namespace finsync::sink::dolphindb
