#pragma once
// A loopback stand-in for a MongoDB server, for tests: Debian ships no MongoDB server, so the
// real libmongoc driver is tested against this. It speaks enough of the wire protocol to accept a
// connection (the OP_QUERY isMaster / OP_MSG hello handshake), decodes every command (OP_MSG
// kind-0 body plus kind-1 document sequences folded in as arrays; OP_QUERY on `db.$cmd`), records
// it, and answers `ok: 1` with the counters a server would give (n for writes, an empty or
// scripted cursor for reads).
//
// Credentials are always refused (saslStart answers "Authentication failed.", code 18, as a
// server answers a wrong password): a recorder cannot check one.
//
// It is not a database. The one piece of state it keeps: for the collections in
// Options::remember (default `_finsync_landed`), the last document each upsert statement wrote
// per filter, so a `find` whose filter is equality on top-level fields finds it. That is enough
// for a sink to read back its landed markers across runs; every other read answers what the test
// scripted with reply_next(), or an empty cursor.
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace finsync::testing {

struct RecordedCommand {
  int connection = 0;  // 1, 2, ... in accept order
  std::string op;      // "OP_MSG" or "OP_QUERY"
  std::string name;    // the command: first key of the body ("insert", "update", "hello", ...)
  std::string db;      // `$db` (OP_MSG) or the namespace's database (OP_QUERY)
  // Canonical extended JSON of the body, with each kind-1 document sequence appended as an array
  // under its identifier (so an `update` always has its `updates` array). Empty when the recorder
  // runs with record_documents = false and the command carried a document sequence.
  std::string json;
  int64_t documents = 0;  // documents in kind-1 sequences (and in inline documents/updates/deletes)
  int64_t bytes = 0;      // message size on the wire
};

class MongoRecorder {
 public:
  struct Options {
    std::string log_path;  // JSON lines, one per command; empty = in memory only
    // false: commands that carry documents are counted, not decoded into JSON (benchmarks).
    bool record_documents = true;
    std::set<std::string> remember = {"_finsync_landed"};
    int max_wire_version = 17;  // MongoDB 6.0
    uint16_t port = 0;          // 0 = any free loopback port
  };

  explicit MongoRecorder(Options options);
  MongoRecorder() : MongoRecorder(Options{}) {}
  ~MongoRecorder();
  MongoRecorder(const MongoRecorder&) = delete;
  MongoRecorder& operator=(const MongoRecorder&) = delete;

  uint16_t port() const;
  std::string uri(const std::string& db = "finsync") const;  // mongodb://127.0.0.1:PORT/db?...

  std::vector<RecordedCommand> commands() const;
  // Commands named `name` (e.g. "update"), in arrival order.
  std::vector<RecordedCommand> commands(const std::string& name) const;
  void clear();

  // The next command named `name` is answered with `reply` (canonical or relaxed extended JSON)
  // instead of the default; each call scripts one more answer, used in order.
  void reply_next(const std::string& name, const std::string& reply);
  // The next command named `name` (on `collection`, when given) is recorded and its connection
  // closed without an answer and without applying it: a server that went away mid-request.
  void drop_next(const std::string& name, const std::string& collection = "");
  // Like drop_next, but the command is applied first: the write happened, its answer was lost.
  void lose_answer_next(const std::string& name, const std::string& collection = "");
  // Closes every client connection and the listener, then listens again on the same port: the
  // driver sees its connections die as in a server restart.
  void restart();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace finsync::testing
