#include "mongo_recorder.hpp"

#include <bson/bson.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace finsync::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr int32_t kOpReply = 1;
constexpr int32_t kOpQuery = 2004;
constexpr int32_t kOpMsg = 2013;
constexpr uint32_t kChecksumPresent = 1u << 0;
constexpr uint32_t kMoreToCome = 1u << 1;
constexpr int32_t kMaxMessage = 48'000'000;

int32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return static_cast<int32_t>(v);  // the wire is little-endian, like this machine
}

void put32(std::vector<uint8_t>& out, int32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  out.insert(out.end(), b, b + 4);
}

void put64(std::vector<uint8_t>& out, int64_t v) {
  uint8_t b[8];
  std::memcpy(b, &v, 8);
  out.insert(out.end(), b, b + 8);
}

struct BsonDoc {
  bson_t b;
  BsonDoc() { bson_init(&b); }
  explicit BsonDoc(const bson_t* src) { bson_copy_to(src, &b); }
  BsonDoc(const BsonDoc& o) { bson_copy_to(&o.b, &b); }
  BsonDoc& operator=(const BsonDoc& o) {
    if (this != &o) {
      bson_destroy(&b);
      bson_copy_to(&o.b, &b);
    }
    return *this;
  }
  ~BsonDoc() { bson_destroy(&b); }
  bson_t* get() { return &b; }
  const bson_t* get() const { return &b; }
};

std::string canonical_json(const bson_t* doc) {
  size_t len = 0;
  char* s = bson_as_canonical_extended_json(doc, &len);
  if (s == nullptr) return "{}";
  std::string out(s, len);
  bson_free(s);
  return out;
}

std::string first_key(const bson_t* doc) {
  bson_iter_t it;
  if (bson_iter_init(&it, doc) && bson_iter_next(&it)) return bson_iter_key(&it);
  return "";
}

std::string utf8_field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, nullptr);
  return "";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One value compared by its canonical encoding: exact type and value, as the server compares
// BSON for an equality filter on a single type.
std::string value_key(const bson_iter_t* it) {
  bson_t one = BSON_INITIALIZER;
  bson_append_iter(&one, "v", 1, it);
  std::string s = canonical_json(&one);
  bson_destroy(&one);
  return s;
}

bool matches(const bson_t* doc, const bson_t* filter) {
  bson_iter_t f;
  if (!bson_iter_init(&f, filter)) return false;
  while (bson_iter_next(&f)) {
    bson_iter_t d;
    if (!bson_iter_init_find(&d, doc, bson_iter_key(&f))) return false;
    if (value_key(&d) != value_key(&f)) return false;
  }
  return true;
}

// Documents of an array field (updates, deletes, documents), each as a borrowed bson_t.
template <class F>
int64_t for_each_in_array(const bson_t* cmd, const char* key, F&& f) {
  bson_iter_t it, child;
  int64_t n = 0;
  if (!bson_iter_init_find(&it, cmd, key) || !BSON_ITER_HOLDS_ARRAY(&it)) return 0;
  if (!bson_iter_recurse(&it, &child)) return 0;
  while (bson_iter_next(&child)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&child)) continue;
    uint32_t len = 0;
    const uint8_t* data = nullptr;
    bson_iter_document(&child, &len, &data);
    bson_t doc;
    if (bson_init_static(&doc, data, len)) f(&doc);
    ++n;
  }
  return n;
}

bool sub_document(const bson_t* parent, const char* key, bson_t* out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, parent, key) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  bson_iter_document(&it, &len, &data);
  return bson_init_static(out, data, len);
}

bool bool_field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && bson_iter_as_bool(&it);
}

}  // namespace

struct MongoRecorder::Impl {
  struct Session : std::enable_shared_from_this<Session> {
    Session(Impl* o, tcp::socket s, int i) : owner(o), sock(std::move(s)), id(i) {}
    Impl* owner;
    tcp::socket sock;
    int id;
    uint8_t header[16];
    std::vector<uint8_t> body;
    std::vector<uint8_t> out;

    void read_header() {
      auto self = shared_from_this();
      asio::async_read(sock, asio::buffer(header, 16),
                       [self](boost::system::error_code ec, size_t) {
                         if (ec) return;
                         const int32_t len = le32(self->header);
                         if (len < 16 || len > kMaxMessage) return self->sock.close();
                         self->body.resize(static_cast<size_t>(len) - 16);
                         self->read_body();
                       });
    }
    void read_body() {
      auto self = shared_from_this();
      asio::async_read(sock, asio::buffer(body), [self](boost::system::error_code ec, size_t) {
        if (ec) return;
        bool reply = false;
        if (!self->owner->handle(*self, reply)) return self->sock.close();
        if (!reply) return self->read_header();
        asio::async_write(self->sock, asio::buffer(self->out),
                          [self](boost::system::error_code wec, size_t) {
                            if (!wec) self->read_header();
                          });
      });
    }
  };

  explicit Impl(Options o) : opts(std::move(o)), acceptor(io) {
    if (!opts.log_path.empty()) {
      log = std::fopen(opts.log_path.c_str(), "w");
      if (log == nullptr) throw std::runtime_error("cannot write " + opts.log_path);
    }
    listen(opts.port);
    port = acceptor.local_endpoint().port();
    thread = std::thread([this] { io.run(); });
  }
  ~Impl() {
    io.stop();
    if (thread.joinable()) thread.join();
    if (log != nullptr) std::fclose(log);
  }

  void listen(uint16_t p) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), p);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    accept();
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;  // closed by restart() or shutdown
      s.set_option(tcp::no_delay(true));
      auto session = std::make_shared<Session>(this, std::move(s), ++connections);
      sessions.push_back(session);
      session->read_header();
      accept();
    });
  }

  void restart() {
    std::promise<void> done;
    asio::post(io, [&] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      for (auto& w : sessions)
        if (auto s = w.lock()) s->sock.close(ignored);
      sessions.clear();
      listen(port);
      done.set_value();
    });
    done.get_future().wait();
  }

  // Decodes one message, records it and builds the answer in session.out. false: close.
  bool handle(Session& s, bool& reply) {
    const int32_t request_id = le32(s.header + 4);
    const int32_t opcode = le32(s.header + 12);
    const uint8_t* p = s.body.data();
    const size_t n = s.body.size();
    RecordedCommand rec;
    rec.connection = s.id;
    rec.bytes = static_cast<int64_t>(n + 16);
    BsonDoc cmd;
    std::string collection_ns;
    uint32_t flags = 0;
    if (opcode == kOpMsg) {
      rec.op = "OP_MSG";
      if (n < 5) return false;
      flags = static_cast<uint32_t>(le32(p));
      size_t pos = 4;
      const size_t end = n - ((flags & kChecksumPresent) ? 4 : 0);
      // (pointer, length) of each document: a bson_t points into itself and cannot be copied.
      using Span = std::pair<const uint8_t*, int32_t>;
      std::vector<std::pair<std::string, std::vector<Span>>> sequences;
      bool have_body = false;
      while (pos < end) {
        const uint8_t kind = p[pos++];
        if (pos + 4 > end) return false;
        if (kind == 0) {
          const int32_t len = le32(p + pos);
          bson_t body;
          if (len < 5 || pos + len > end || !bson_init_static(&body, p + pos, len)) return false;
          bson_concat(cmd.get(), &body);
          have_body = true;
          pos += len;
        } else if (kind == 1) {
          const int32_t size = le32(p + pos);
          const size_t sec_end = pos + size;
          if (size < 5 || sec_end > end) return false;
          size_t q = pos + 4;
          const auto* ident = reinterpret_cast<const char*>(p + q);
          const size_t ilen = strnlen(ident, sec_end - q);
          if (q + ilen >= sec_end) return false;
          q += ilen + 1;
          auto& seq = sequences.emplace_back(std::string(ident, ilen), std::vector<Span>{});
          while (q < sec_end) {
            const int32_t len = le32(p + q);
            bson_t d;
            if (len < 5 || q + len > sec_end || !bson_init_static(&d, p + q, len)) return false;
            seq.second.emplace_back(p + q, len);
            q += len;
          }
          pos = sec_end;
        } else {
          return false;
        }
      }
      if (!have_body) return false;
      for (auto& [ident, docs] : sequences) {
        rec.documents += static_cast<int64_t>(docs.size());
        if (!opts.record_documents && !opts.remember.count(first_value(cmd.get()))) continue;
        bson_t arr;
        bson_append_array_begin(cmd.get(), ident.c_str(), -1, &arr);
        for (size_t i = 0; i < docs.size(); ++i) {
          const std::string k = std::to_string(i);
          bson_t d;
          bson_init_static(&d, docs[i].first, docs[i].second);
          bson_append_document(&arr, k.c_str(), -1, &d);
        }
        bson_append_array_end(cmd.get(), &arr);
      }
      rec.db = utf8_field(cmd.get(), "$db");
      if (!opts.record_documents && !sequences.empty() &&
          !opts.remember.count(first_value(cmd.get())))
        rec.json.clear();
      else
        rec.json = canonical_json(cmd.get());
    } else if (opcode == kOpQuery) {
      rec.op = "OP_QUERY";
      if (n < 4) return false;
      size_t pos = 4;
      const auto* ns = reinterpret_cast<const char*>(p + pos);
      const size_t nlen = strnlen(ns, n - pos);
      if (pos + nlen >= n) return false;
      const std::string full(ns, nlen);
      pos += nlen + 1 + 8;  // numberToSkip, numberToReturn
      if (pos + 4 > n) return false;
      const int32_t len = le32(p + pos);
      bson_t q;
      if (len < 5 || pos + len > n || !bson_init_static(&q, p + pos, len)) return false;
      bson_t inner;
      if (first_key(&q) == "$query" && sub_document(&q, "$query", &inner))
        bson_concat(cmd.get(), &inner);
      else
        bson_concat(cmd.get(), &q);
      rec.db = full.substr(0, full.find('.'));
      rec.json = canonical_json(cmd.get());
    } else {
      return false;  // OP_COMPRESSED and the removed legacy opcodes: never negotiated here
    }
    rec.name = first_key(cmd.get());
    if (rec.documents == 0) {
      for (const char* k : {"documents", "updates", "deletes"})
        rec.documents += for_each_in_array(cmd.get(), k, [](const bson_t*) {});
    }

    bool drop = false, applied = false;
    std::optional<std::string> scripted;
    const std::string target = first_value(cmd.get());
    {
      std::lock_guard lock(mu);
      if (log != nullptr) {
        std::fprintf(log,
                     "{\"conn\":%d,\"op\":\"%s\",\"cmd\":\"%s\",\"db\":\"%s\",\"documents\":%lld,"
                     "\"bytes\":%lld,\"body\":%s}\n",
                     rec.connection, rec.op.c_str(), rec.name.c_str(), rec.db.c_str(),
                     static_cast<long long>(rec.documents), static_cast<long long>(rec.bytes),
                     rec.json.empty() ? "null" : rec.json.c_str());
        std::fflush(log);
      }
      auto fault = std::find_if(faults.begin(), faults.end(), [&](const Fault& f) {
        return f.name == rec.name && (f.collection.empty() || f.collection == target);
      });
      if (fault != faults.end()) {
        drop = true;
        applied = fault->applied;
        faults.erase(fault);
      } else if (auto sit = scripts.find(rec.name); sit != scripts.end() && !sit->second.empty()) {
        scripted = sit->second.front();
        sit->second.pop_front();
      }
      recorded.push_back(rec);
    }
    if (drop) {
      if (applied) answer(rec, cmd.get());
      return false;
    }
    if (opcode == kOpMsg && (flags & kMoreToCome)) {
      answer(rec, cmd.get());  // unacknowledged write: applied, never answered
      reply = false;
      return true;
    }

    BsonDoc answer_doc;
    if (scripted) {
      bson_error_t err;
      if (!bson_init_from_json(answer_doc.get(), scripted->c_str(), -1, &err))
        throw std::runtime_error("scripted reply is not extended JSON: " + *scripted);
    } else {
      answer_doc = answer(rec, cmd.get());
    }
    s.out.clear();
    const bson_t* a = answer_doc.get();
    if (opcode == kOpMsg) {
      put32(s.out, 0);
      put32(s.out, ++next_id);
      put32(s.out, request_id);
      put32(s.out, kOpMsg);
      put32(s.out, 0);  // flagBits
      s.out.push_back(0);
      s.out.insert(s.out.end(), bson_get_data(a), bson_get_data(a) + a->len);
    } else {
      put32(s.out, 0);
      put32(s.out, ++next_id);
      put32(s.out, request_id);
      put32(s.out, kOpReply);
      put32(s.out, 8);  // responseFlags: AwaitCapable, as servers set it
      put64(s.out, 0);  // cursorID
      put32(s.out, 0);  // startingFrom
      put32(s.out, 1);  // numberReturned
      s.out.insert(s.out.end(), bson_get_data(a), bson_get_data(a) + a->len);
    }
    const int32_t total = static_cast<int32_t>(s.out.size());
    std::memcpy(s.out.data(), &total, 4);
    reply = true;
    return true;
  }

  static std::string first_value(const bson_t* cmd) {
    bson_iter_t it;
    if (bson_iter_init(&it, cmd) && bson_iter_next(&it) && BSON_ITER_HOLDS_UTF8(&it))
      return bson_iter_utf8(&it, nullptr);
    return "";
  }

  // The default answer of a server that accepts everything; writes to remembered collections
  // are applied to the in-memory documents first.
  BsonDoc answer(const RecordedCommand& rec, const bson_t* cmd) {
    BsonDoc out;
    bson_t* r = out.get();
    const std::string name = lower(rec.name);
    const std::string coll = first_value(cmd);
    const std::string ns = rec.db + "." + coll;
    if (name == "hello" || name == "ismaster") {
      BSON_APPEND_BOOL(r, "helloOk", true);
      BSON_APPEND_BOOL(r, name == "hello" ? "isWritablePrimary" : "ismaster", true);
      BSON_APPEND_INT32(r, "maxBsonObjectSize", 16 * 1024 * 1024);
      BSON_APPEND_INT32(r, "maxMessageSizeBytes", kMaxMessage);
      BSON_APPEND_INT32(r, "maxWriteBatchSize", 100000);
      BSON_APPEND_DATE_TIME(r, "localTime", bson_get_monotonic_time() / 1000);
      BSON_APPEND_INT32(r, "logicalSessionTimeoutMinutes", 30);
      BSON_APPEND_INT32(r, "connectionId", rec.connection);
      BSON_APPEND_INT32(r, "minWireVersion", 0);
      BSON_APPEND_INT32(r, "maxWireVersion", opts.max_wire_version);
      BSON_APPEND_BOOL(r, "readOnly", false);
      bson_iter_t it;
      if (bson_iter_init_find(&it, cmd, "saslSupportedMechs")) {
        bson_t arr;
        BSON_APPEND_ARRAY_BEGIN(r, "saslSupportedMechs", &arr);
        BSON_APPEND_UTF8(&arr, "0", "SCRAM-SHA-1");
        BSON_APPEND_UTF8(&arr, "1", "SCRAM-SHA-256");
        bson_append_array_end(r, &arr);
      }
      BSON_APPEND_DOUBLE(r, "ok", 1.0);
      return out;
    }
    if (name == "saslstart" || name == "saslcontinue" || name == "authenticate") {
      // A recorder cannot check a password: every credential is refused, as a server refuses a
      // wrong one.
      BSON_APPEND_DOUBLE(r, "ok", 0.0);
      BSON_APPEND_UTF8(r, "errmsg", "Authentication failed.");
      BSON_APPEND_INT32(r, "code", 18);
      BSON_APPEND_UTF8(r, "codeName", "AuthenticationFailed");
      return out;
    }
    if (name == "buildinfo") {
      BSON_APPEND_UTF8(r, "version", "6.0.0");
      bson_t arr;
      BSON_APPEND_ARRAY_BEGIN(r, "versionArray", &arr);
      for (int i = 0; i < 4; ++i)
        BSON_APPEND_INT32(&arr, std::to_string(i).c_str(), i == 0 ? 6 : 0);
      bson_append_array_end(r, &arr);
      BSON_APPEND_DOUBLE(r, "ok", 1.0);
      return out;
    }
    const bool remembered = opts.remember.count(coll) > 0;
    if (name == "insert" || name == "update" || name == "delete") {
      std::lock_guard lock(mu);
      auto& docs = stored[ns];
      if (remembered && name == "insert") {
        for_each_in_array(cmd, "documents", [&](const bson_t* d) { docs.emplace_back(d); });
      } else if (remembered && name == "update") {
        for_each_in_array(cmd, "updates", [&](const bson_t* st) { apply_update(docs, st); });
      } else if (remembered && name == "delete") {
        for_each_in_array(cmd, "deletes", [&](const bson_t* st) {
          bson_t q;
          if (!sub_document(st, "q", &q)) return;
          std::erase_if(docs, [&](const BsonDoc& d) { return matches(d.get(), &q); });
        });
      }
      BSON_APPEND_INT32(r, "n", static_cast<int32_t>(rec.documents));
      if (name == "update") BSON_APPEND_INT32(r, "nModified", 0);
      BSON_APPEND_DOUBLE(r, "ok", 1.0);
      return out;
    }
    if (name == "find" || name == "listcollections" || name == "listindexes" ||
        name == "aggregate") {
      bson_t cursor, batch;
      BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cursor);
      BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &batch);
      if (name == "find" && remembered) {
        bson_t f;
        const bool has_filter = sub_document(cmd, "filter", &f);
        bson_iter_t lim;
        int64_t limit = 0;
        if (bson_iter_init_find(&lim, cmd, "limit")) limit = bson_iter_as_int64(&lim);
        std::lock_guard lock(mu);
        int i = 0;
        for (const auto& d : stored[ns]) {
          if (has_filter && !matches(d.get(), &f)) continue;
          if (limit > 0 && i >= limit) break;
          bson_append_document(&batch, std::to_string(i++).c_str(), -1, d.get());
        }
      }
      bson_append_array_end(&cursor, &batch);
      BSON_APPEND_INT64(&cursor, "id", 0);
      BSON_APPEND_UTF8(&cursor, "ns", ns.c_str());
      bson_append_document_end(r, &cursor);
      BSON_APPEND_DOUBLE(r, "ok", 1.0);
      return out;
    }
    if (name == "createindexes") {
      BSON_APPEND_INT32(r, "numIndexesBefore", 1);
      BSON_APPEND_INT32(r, "numIndexesAfter", 2);
      BSON_APPEND_BOOL(r, "createdCollectionAutomatically", true);
      BSON_APPEND_DOUBLE(r, "ok", 1.0);
      return out;
    }
    if (name == "drop" && remembered) {
      std::lock_guard lock(mu);
      stored.erase(ns);
    }
    BSON_APPEND_DOUBLE(r, "ok", 1.0);
    return out;
  }

  // Upsert statements replace (or $set into) the document their filter finds, else add one
  // made of the filter's fields and the update's.
  static void apply_update(std::vector<BsonDoc>& docs, const bson_t* st) {
    bson_t q, u;
    if (!sub_document(st, "q", &q) || !sub_document(st, "u", &u)) return;
    const bool is_operator = first_key(&u).starts_with("$");
    bson_t set;
    const bson_t* fields = &u;
    if (is_operator) {
      if (!sub_document(&u, "$set", &set)) return;
      fields = &set;
    }
    for (auto& d : docs) {
      if (!matches(d.get(), &q)) continue;
      BsonDoc merged;
      if (is_operator) {
        bson_iter_t it;
        bson_iter_init(&it, d.get());
        while (bson_iter_next(&it)) {
          bson_iter_t probe;
          if (!bson_iter_init_find(&probe, fields, bson_iter_key(&it)))
            bson_append_iter(merged.get(), bson_iter_key(&it), -1, &it);
        }
      }
      bson_concat(merged.get(), fields);
      bson_reinit(d.get());
      bson_concat(d.get(), merged.get());
      if (!bool_field(st, "multi")) return;
    }
    if (!bool_field(st, "upsert")) return;
    BsonDoc added;
    bson_iter_t it;
    bson_iter_init(&it, &q);
    while (bson_iter_next(&it)) {
      bson_iter_t probe;
      if (!bson_iter_init_find(&probe, fields, bson_iter_key(&it)))
        bson_append_iter(added.get(), bson_iter_key(&it), -1, &it);
    }
    bson_concat(added.get(), fields);
    docs.push_back(added);
  }

  Options opts;
  asio::io_context io;
  tcp::acceptor acceptor;
  uint16_t port = 0;
  std::thread thread;
  std::vector<std::weak_ptr<Session>> sessions;
  int connections = 0;
  int32_t next_id = 0;

  mutable std::mutex mu;
  std::FILE* log = nullptr;
  std::vector<RecordedCommand> recorded;
  std::map<std::string, std::deque<std::string>> scripts;
  struct Fault {
    std::string name, collection;
    bool applied = false;
  };
  std::deque<Fault> faults;
  std::map<std::string, std::vector<BsonDoc>> stored;
};

MongoRecorder::MongoRecorder(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
MongoRecorder::~MongoRecorder() = default;

uint16_t MongoRecorder::port() const {
  return impl_->port;
}

std::string MongoRecorder::uri(const std::string& db) const {
  return "mongodb://127.0.0.1:" + std::to_string(impl_->port) + "/" + db;
}

std::vector<RecordedCommand> MongoRecorder::commands() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::vector<RecordedCommand> MongoRecorder::commands(const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  std::vector<RecordedCommand> out;
  for (const auto& c : impl_->recorded)
    if (c.name == name) out.push_back(c);
  return out;
}

void MongoRecorder::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->recorded.clear();
}

void MongoRecorder::reply_next(const std::string& name, const std::string& reply) {
  std::lock_guard lock(impl_->mu);
  impl_->scripts[name].push_back(reply);
}

void MongoRecorder::drop_next(const std::string& name, const std::string& collection) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back({name, collection, false});
}

void MongoRecorder::lose_answer_next(const std::string& name, const std::string& collection) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back({name, collection, true});
}

void MongoRecorder::restart() {
  impl_->restart();
}

}  // namespace finsync::testing
