// The mongodb Driver and Session (see mongo_sink.hpp and docs/sinks.md, "MongoDB").
#include <mongoc/mongoc.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "sink/mongodb/bson_rows.hpp"
#include "sink/mongodb/mongo_error.hpp"
#include "sink/mongodb/mongo_sink.hpp"

namespace finsync::sink::mongodb {

namespace {

constexpr const char* kMarkers = "_finsync_landed";
constexpr const char* kKeyIndex = "finsync_key";
constexpr int64_t kMillisPerDay = 86'400'000;

// libmongoc logs through spdlog (masked): its default handler prints to stderr.
void mongoc_log(mongoc_log_level_t level, const char* domain, const char* message, void*) {
  const std::string text = secrets::mask(message);
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
    case MONGOC_LOG_LEVEL_WARNING:
      spdlog::warn("libmongoc {}: {}", domain, text);
      break;
    case MONGOC_LOG_LEVEL_TRACE:
      spdlog::trace("libmongoc {}: {}", domain, text);
      break;
    default:
      spdlog::debug("libmongoc {}: {}", domain, text);
      break;
  }
}

void init_mongoc() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(mongoc_log, nullptr);
  });
}

// A bson_t on the stack with its destructor.
struct Bson {
  bson_t b;
  Bson() { bson_init(&b); }
  ~Bson() { bson_destroy(&b); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  bson_t* get() { return &b; }
};

struct UriFree {
  void operator()(mongoc_uri_t* u) const { mongoc_uri_destroy(u); }
};
struct ClientFree {
  void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
};
struct CollectionFree {
  void operator()(mongoc_collection_t* c) const { mongoc_collection_destroy(c); }
};
struct DatabaseFree {
  void operator()(mongoc_database_t* d) const { mongoc_database_destroy(d); }
};
struct CursorFree {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
struct BulkFree {
  void operator()(mongoc_bulk_operation_t* b) const { mongoc_bulk_operation_destroy(b); }
};
struct WriteConcernFree {
  void operator()(mongoc_write_concern_t* w) const { mongoc_write_concern_destroy(w); }
};
using UriPtr = std::unique_ptr<mongoc_uri_t, UriFree>;
using ClientPtr = std::unique_ptr<mongoc_client_t, ClientFree>;
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionFree>;
using DatabasePtr = std::unique_ptr<mongoc_database_t, DatabaseFree>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorFree>;
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkFree>;
using WriteConcernPtr = std::unique_ptr<mongoc_write_concern_t, WriteConcernFree>;

std::string utf8_at(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, nullptr);
  return "";
}

bool sub_document(const bson_iter_t* it, bson_t* out) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) return false;
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  bson_iter_document(it, &len, &data);
  return bson_init_static(out, data, len);
}

// Drains a cursor into `f(doc)`; a cursor error is returned classified.
template <class F>
Result<void> each(mongoc_cursor_t* cursor, std::string_view what, F&& f) {
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) f(doc);
  bson_error_t err;
  const bson_t* reply = nullptr;
  if (mongoc_cursor_error_document(cursor, &err, &reply))
    return fail(mongo_error(what, err, reply));
  return {};
}

// The collection's $jsonSchema as a table shape: each property with its non-null bsonType,
// nullable when "null" is among its types.
TableShape shape_of(const bson_t* json_schema) {
  TableShape shape;
  bson_iter_t it;
  bson_t props;
  if (!bson_iter_init_find(&it, json_schema, "properties") || !sub_document(&it, &props))
    return shape;
  bson_iter_t p;
  bson_iter_init(&p, &props);
  while (bson_iter_next(&p)) {
    ColumnShape col{bson_iter_key(&p), "", false};
    bson_t prop;
    bson_iter_t t;
    if (sub_document(&p, &prop) && bson_iter_init_find(&t, &prop, "bsonType")) {
      if (BSON_ITER_HOLDS_UTF8(&t)) {
        col.type = bson_iter_utf8(&t, nullptr);
      } else if (BSON_ITER_HOLDS_ARRAY(&t)) {
        bson_iter_t e;
        bson_iter_recurse(&t, &e);
        while (bson_iter_next(&e)) {
          if (!BSON_ITER_HOLDS_UTF8(&e)) continue;
          const std::string v = bson_iter_utf8(&e, nullptr);
          if (v == "null")
            col.nullable = true;
          else if (col.type.empty())
            col.type = v;
        }
      }
    }
    shape.columns.push_back(std::move(col));
  }
  return shape;
}

class MongoSession final : public db::Session {
 public:
  MongoSession(ClientPtr client, std::string db, std::string user)
      : client_(std::move(client)), db_name_(std::move(db)), user_(std::move(user)) {
    db_.reset(mongoc_client_get_database(client_.get(), db_name_.c_str()));
    // Markers are the proof that a landing's rows are durable: they wait for the journal. The
    // journal is one ordered log, so the rows acknowledged before them are in it too.
    journaled_.reset(mongoc_write_concern_copy(mongoc_client_get_write_concern(client_.get())));
    mongoc_write_concern_set_journal(journaled_.get(), true);
    bson_init(&upsert_opts_);
    BSON_APPEND_BOOL(&upsert_opts_, "upsert", true);
    // Documents are built here from checked names and UTF-8-checked strings: libmongoc's own
    // second pass over every document is skipped.
    BSON_APPEND_BOOL(&upsert_opts_, "validate", false);
    bson_init(&insert_opts_);
    BSON_APPEND_BOOL(&insert_opts_, "validate", false);
  }
  ~MongoSession() override {
    bson_destroy(&upsert_opts_);
    bson_destroy(&insert_opts_);
    collections_.clear();
    db_.reset();
  }

  // The first round trip: proves the server answers and the credentials are good.
  Result<void> ping() {
    Bson cmd, reply;
    BSON_APPEND_INT32(cmd.get(), "ping", 1);
    bson_error_t err;
    if (!mongoc_client_command_simple(client_.get(), "admin", cmd.get(), nullptr, reply.get(),
                                      &err))
      return fail(connect_error(err, user_));
    return {};
  }

  Result<std::string> server_version() override {
    Bson cmd, reply;
    BSON_APPEND_INT32(cmd.get(), "buildInfo", 1);
    bson_error_t err;
    if (!mongoc_client_command_simple(client_.get(), "admin", cmd.get(), nullptr, reply.get(),
                                      &err))
      return fail(mongo_error("reading the server version", err, reply.get()));
    return "MongoDB " + utf8_at(reply.get(), "version");
  }

  Result<std::optional<TableShape>> describe(const std::string& table) override {
    auto schema = json_schema_of(table);
    if (!schema) return fail(schema.error());
    if (!*schema) return std::optional<TableShape>{};
    bson_t js;
    bson_init_static(&js, (*schema)->data(), (*schema)->size());
    TableShape shape = shape_of(&js);
    auto key = key_index(table);
    if (!key) return fail(key.error());
    shape.key = std::move(*key);
    return std::optional<TableShape>(std::move(shape));
  }

  Result<void> create_table(const db::TableDesign& t) override {
    auto m = mapper(t);
    if (!m) return fail(m.error());
    Bson validator;
    bson_t js;
    BSON_APPEND_DOCUMENT_BEGIN(validator.get(), "$jsonSchema", &js);
    (*m)->json_schema(&js);
    bson_append_document_end(validator.get(), &js);
    if (auto r = set_validator(t.name, validator.get(), /*create=*/true); !r) return r;
    // Unique in every mode: append relies on it too (a re-landed row is a duplicate key).
    Bson cmd;
    BSON_APPEND_UTF8(cmd.get(), "createIndexes", t.name.c_str());
    bson_t indexes, index, key;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
    (*m)->index_keys(&key);
    bson_append_document_end(&index, &key);
    BSON_APPEND_UTF8(&index, "name", kKeyIndex);
    BSON_APPEND_BOOL(&index, "unique", true);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(cmd.get(), &indexes);
    return run_command(cmd.get(),
                       fmt::format("creating the unique index {} on {}", kKeyIndex, t.name));
  }

  Result<void> add_column(const db::TableDesign& t, const Field& field,
                          const std::string& type) override {
    auto schema = json_schema_of(t.name);
    if (!schema) return fail(schema.error());
    Bson validator;
    bson_t js;
    BSON_APPEND_DOCUMENT_BEGIN(validator.get(), "$jsonSchema", &js);
    if (*schema) {
      // The schema as the collection has it, with one more property.
      bson_t current;
      bson_init_static(&current, (*schema)->data(), (*schema)->size());
      bson_iter_t it;
      bson_iter_init(&it, &current);
      while (bson_iter_next(&it)) {
        if (std::string_view(bson_iter_key(&it)) != "properties") {
          bson_append_iter(&js, bson_iter_key(&it), -1, &it);
          continue;
        }
        bson_t props, old;
        sub_document(&it, &old);
        BSON_APPEND_DOCUMENT_BEGIN(&js, "properties", &props);
        bson_concat(&props, &old);
        append_property(&props, field.name, type.c_str(), true);
        bson_append_document_end(&js, &props);
      }
    } else {
      auto m = mapper(t);
      if (!m) return fail(m.error());
      (*m)->json_schema(&js);
    }
    bson_append_document_end(validator.get(), &js);
    return set_validator(t.name, validator.get(), /*create=*/false);
  }

  Result<void> create_markers() override {
    Bson cmd;
    BSON_APPEND_UTF8(cmd.get(), "createIndexes", kMarkers);
    bson_t indexes, a, b, ka, kb;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &a);
    BSON_APPEND_DOCUMENT_BEGIN(&a, "key", &ka);
    BSON_APPEND_INT32(&ka, "plan", 1);
    bson_append_document_end(&a, &ka);
    BSON_APPEND_UTF8(&a, "name", "finsync_plan");
    bson_append_document_end(&indexes, &a);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "1", &b);
    BSON_APPEND_DOCUMENT_BEGIN(&b, "key", &kb);
    BSON_APPEND_INT32(&kb, "commit_id", 1);
    bson_append_document_end(&b, &kb);
    BSON_APPEND_UTF8(&b, "name", "finsync_commit");
    bson_append_document_end(&indexes, &b);
    bson_append_array_end(cmd.get(), &indexes);
    return run_command(cmd.get(), "creating the _finsync_landed indexes");
  }

  Result<std::map<std::string, int64_t>> landed(const std::string& plan) override {
    Bson filter, opts;
    BSON_APPEND_UTF8(filter.get(), "plan", plan.c_str());
    bson_t proj;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 0);
    BSON_APPEND_INT32(&proj, "task_id", 1);
    BSON_APPEND_INT32(&proj, "rows", 1);
    bson_append_document_end(opts.get(), &proj);
    CursorPtr cursor(
        mongoc_collection_find_with_opts(collection(kMarkers), filter.get(), opts.get(), nullptr));
    std::map<std::string, int64_t> out;
    auto r = each(cursor.get(), "reading landed markers", [&](const bson_t* doc) {
      bson_iter_t it;
      const std::string task = utf8_at(doc, "task_id");
      if (task.empty()) return;
      int64_t rows = 0;
      if (bson_iter_init_find(&it, doc, "rows")) rows = bson_iter_as_int64(&it);
      out[task] += rows;
    });
    if (!r) return fail(r.error());
    return out;
  }

  // verify: one aggregate groups the documents by symbol and UTC day of the time column (a BSON
  // date, milliseconds since 1970; $toLong needs MongoDB 4.0); the server may spill the groups.
  Result<db::LandedDays> landed_days(const db::TableDesign& t,
                                     const std::string& symbol_column) override {
    Bson pipeline, opts;
    bson_t stage, match, not_null, group, id, literal, day, floor, divide, to_long;
    BSON_APPEND_DOCUMENT_BEGIN(pipeline.get(), "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
    BSON_APPEND_DOCUMENT_BEGIN(&match, t.time_column.c_str(), &not_null);
    BSON_APPEND_NULL(&not_null, "$ne");
    bson_append_document_end(&match, &not_null);
    bson_append_document_end(&stage, &match);
    bson_append_document_end(pipeline.get(), &stage);
    BSON_APPEND_DOCUMENT_BEGIN(pipeline.get(), "1", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
    BSON_APPEND_DOCUMENT_BEGIN(&group, "_id", &id);
    if (symbol_column.empty()) {
      BSON_APPEND_DOCUMENT_BEGIN(&id, "s", &literal);
      BSON_APPEND_UTF8(&literal, "$literal", "");
      bson_append_document_end(&id, &literal);
    } else {
      BSON_APPEND_UTF8(&id, "s", ("$" + symbol_column).c_str());
    }
    BSON_APPEND_DOCUMENT_BEGIN(&id, "d", &day);
    BSON_APPEND_DOCUMENT_BEGIN(&day, "$floor", &floor);
    BSON_APPEND_ARRAY_BEGIN(&floor, "$divide", &divide);
    BSON_APPEND_DOCUMENT_BEGIN(&divide, "0", &to_long);
    BSON_APPEND_UTF8(&to_long, "$toLong", ("$" + t.time_column).c_str());
    bson_append_document_end(&divide, &to_long);
    BSON_APPEND_INT64(&divide, "1", 86'400'000);
    bson_append_array_end(&floor, &divide);
    bson_append_document_end(&day, &floor);
    bson_append_document_end(&id, &day);
    bson_append_document_end(&group, &id);
    bson_append_document_end(&stage, &group);
    bson_append_document_end(pipeline.get(), &stage);
    BSON_APPEND_BOOL(opts.get(), "allowDiskUse", true);
    CursorPtr cursor(mongoc_collection_aggregate(collection(t.name), MONGOC_QUERY_NONE,
                                                 pipeline.get(), opts.get(), nullptr));
    db::LandedDays out;
    auto r = each(cursor.get(), "reading the landed days", [&](const bson_t* doc) {
      bson_iter_t it, found;
      std::string symbol;
      if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "_id.s", &found) &&
          BSON_ITER_HOLDS_UTF8(&found))
        symbol = bson_iter_utf8(&found, nullptr);
      if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, "_id.d", &found) ||
          !BSON_ITER_HOLDS_NUMBER(&found))
        return;
      out[symbol].push_back(int32_t(bson_iter_as_int64(&found)));
    });
    if (!r) return fail(r.error());
    for (auto& [_, v] : out) std::sort(v.begin(), v.end());
    return out;
  }

  Result<bool> committed(const std::string& commit_id) override {
    Bson filter, opts;
    BSON_APPEND_UTF8(filter.get(), "commit_id", commit_id.c_str());
    BSON_APPEND_INT64(opts.get(), "limit", 1);
    CursorPtr cursor(
        mongoc_collection_find_with_opts(collection(kMarkers), filter.get(), opts.get(), nullptr));
    bool found = false;
    auto r =
        each(cursor.get(), "reading the landing's markers", [&](const bson_t*) { found = true; });
    if (!r) return fail(r.error());
    return found;
  }

  // No multi-document transactions on a standalone server: a landing is its steps in order,
  // markers last (docs/sinks.md says why that is enough).
  Result<void> begin() override { return {}; }
  Result<void> commit() override { return {}; }
  void rollback() override {}

  Result<void> delete_all(const db::TableDesign& t) override {
    Bson filter, reply;
    bson_error_t err;
    if (!mongoc_collection_delete_many(collection(t.name), filter.get(), nullptr, reply.get(),
                                       &err))
      return fail(mongo_error(fmt::format("deleting every document of {} (replace)", t.name), err,
                              reply.get()));
    return {};
  }

  Result<void> delete_scope(const db::TableDesign& t, const Scope& scope) override {
    Bson filter, reply;
    for (const auto& [column, value] : scope.equals) {
      const int c = t.field_index(column);
      if (c >= 0 && t.schema.fields[c].type == DataType::int64) {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || p != value.data() + value.size())
          return fail(ErrorKind::invalid_input,
                      fmt::format("replace: '{}' is not an integer for column {}", value, column));
        bson_append_int64(filter.get(), column.c_str(), -1, v);
      } else {
        bson_append_utf8(filter.get(), column.c_str(), -1, value.data(),
                         static_cast<int>(value.size()));
      }
    }
    if (!scope.time_column.empty()) {
      // Days [first, last] are the milliseconds [first * day, (last + 1) * day): the same
      // filter holds for date fields (midnight) and timestamp fields.
      bson_t range;
      bson_append_document_begin(filter.get(), scope.time_column.c_str(), -1, &range);
      BSON_APPEND_DATE_TIME(&range, "$gte", int64_t(scope.first_day) * kMillisPerDay);
      BSON_APPEND_DATE_TIME(&range, "$lt", int64_t(scope.last_day + 1) * kMillisPerDay);
      bson_append_document_end(filter.get(), &range);
    }
    bson_error_t err;
    if (!mongoc_collection_delete_many(collection(t.name), filter.get(), nullptr, reply.get(),
                                       &err))
      return fail(
          mongo_error("deleting the task's documents (replace: partition)", err, reply.get()));
    return {};
  }

  Result<void> write_rows(const db::TableDesign& t, const RecordBatch& batch, size_t begin,
                          size_t end) override {
    auto m = mapper(t);
    if (!m) return fail(m.error());
    const RowMapper& map = **m;
    // Upsert and replace: one replacement per row, filtered by the key, ordered so that a key
    // written twice in a landing keeps the last row. Append: inserts, unordered, and a key
    // already in the collection (the unique index says so) is a row landed before: skipped.
    const bool upsert = t.mode != WriteMode::append;
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "ordered", upsert);
    BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(collection(t.name), opts.get()));
    bson_t doc = BSON_INITIALIZER;
    bson_t filter = BSON_INITIALIZER;
    Result<void> built;
    bson_error_t err;
    for (size_t r = begin; r < end && built; ++r) {
      bson_reinit(&doc);
      built = map.document(batch, r, r + 1, &doc);
      if (!built) break;
      if (upsert) {
        bson_reinit(&filter);
        built = map.key_filter(batch, r, r + 1, &filter);
        if (built && !mongoc_bulk_operation_replace_one_with_opts(bulk.get(), &filter, &doc,
                                                                  &upsert_opts_, &err))
          built = fail(mongo_error("building the bulk upsert", err, nullptr));
      } else if (!mongoc_bulk_operation_insert_with_opts(bulk.get(), &doc, &insert_opts_, &err)) {
        built = fail(mongo_error("building the bulk insert", err, nullptr));
      }
    }
    bson_destroy(&doc);
    bson_destroy(&filter);
    if (!built) return built;
    if (begin == end) return {};
    Bson reply;
    if (mongoc_bulk_operation_execute(bulk.get(), reply.get(), &err) != 0) return {};
    if (!upsert && !has_write_concern_errors(reply.get())) {
      const auto codes = write_error_codes(reply.get());
      if (!codes.empty() &&
          std::all_of(codes.begin(), codes.end(), [](int64_t c) { return c == 11000; }))
        return {};  // every failure is a document landed before
    }
    return fail(
        mongo_error(upsert ? "upserting documents" : "inserting documents", err, reply.get()));
  }

  Result<void> finish_rows(const db::TableDesign&) override { return {}; }

  Result<void> write_markers(std::span<const db::Marker> markers) override {
    if (markers.empty()) return {};
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "ordered", true);
    mongoc_write_concern_append(journaled_.get(), opts.get());
    BulkPtr bulk(
        mongoc_collection_create_bulk_operation_with_opts(collection(kMarkers), opts.get()));
    bson_error_t err;
    for (const auto& m : markers) {
      // _id {plan, task_id, page}: writing a marker again replaces it.
      Bson filter, doc;
      bson_t id;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
      BSON_APPEND_UTF8(&id, "plan", m.plan.c_str());
      BSON_APPEND_UTF8(&id, "task_id", m.task_id.c_str());
      BSON_APPEND_INT32(&id, "page", m.page);
      bson_append_document_end(filter.get(), &id);
      BSON_APPEND_UTF8(doc.get(), "plan", m.plan.c_str());
      BSON_APPEND_UTF8(doc.get(), "task_id", m.task_id.c_str());
      BSON_APPEND_UTF8(doc.get(), "window", m.window.c_str());
      BSON_APPEND_INT32(doc.get(), "page", m.page);
      BSON_APPEND_INT64(doc.get(), "rows", m.rows);
      BSON_APPEND_UTF8(doc.get(), "commit_id", m.commit_id.c_str());
      BSON_APPEND_DATE_TIME(
          doc.get(), "landed_at",
          std::chrono::duration_cast<std::chrono::milliseconds>(m.landed_at.time_since_epoch())
              .count());
      if (!mongoc_bulk_operation_replace_one_with_opts(bulk.get(), filter.get(), doc.get(),
                                                       &upsert_opts_, &err))
        return fail(mongo_error("building the marker upserts", err, nullptr));
    }
    Bson reply;
    if (mongoc_bulk_operation_execute(bulk.get(), reply.get(), &err) == 0)
      return fail(mongo_error("writing landed markers", err, reply.get()));
    return {};
  }

 private:
  mongoc_collection_t* collection(const std::string& name) {
    auto it = collections_.find(name);
    if (it == collections_.end())
      it = collections_
               .emplace(name, CollectionPtr(mongoc_client_get_collection(
                                  client_.get(), db_name_.c_str(), name.c_str())))
               .first;
    return it->second.get();
  }

  Result<const RowMapper*> mapper(const db::TableDesign& t) {
    auto it = mappers_.find(t.name);
    if (it != mappers_.end() && it->second->schema() == t.schema && it->second->key() == t.key)
      return it->second.get();
    for (const auto& f : t.schema.fields)
      if (auto r = check_field_name(f.name); !r) return fail(r.error());
    if (t.key.empty())
      return fail(ErrorKind::invalid_input,
                  fmt::format("collection {} needs the endpoint's primary key: documents are "
                              "written by key so that landing them again changes nothing",
                              t.name));
    auto m = std::make_unique<RowMapper>(t.schema, t.key);
    const RowMapper* out = m.get();
    mappers_[t.name] = std::move(m);
    return out;
  }

  Result<void> run_command(const bson_t* cmd, std::string_view what) {
    Bson reply;
    bson_error_t err;
    if (!mongoc_database_write_command_with_opts(db_.get(), cmd, nullptr, reply.get(), &err))
      return fail(mongo_error(what, err, reply.get()));
    return {};
  }

  // The collection's $jsonSchema validator as BSON bytes; nullopt when the collection does not
  // exist or has none (open() then gives it finsync's).
  Result<std::optional<std::vector<uint8_t>>> json_schema_of(const std::string& table) {
    Bson opts;
    bson_t filter;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "filter", &filter);
    BSON_APPEND_UTF8(&filter, "name", table.c_str());
    bson_append_document_end(opts.get(), &filter);
    CursorPtr cursor(mongoc_database_find_collections_with_opts(db_.get(), opts.get()));
    std::optional<std::vector<uint8_t>> out;
    auto r = each(cursor.get(), "listing collections", [&](const bson_t* info) {
      bson_iter_t it;
      if (!bson_iter_init(&it, info) ||
          !bson_iter_find_descendant(&it, "options.validator.$jsonSchema", &it) ||
          !BSON_ITER_HOLDS_DOCUMENT(&it))
        return;
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_document(&it, &len, &data);
      out.emplace(data, data + len);
    });
    if (!r) return fail(r.error());
    return out;
  }

  // Fields of the unique key index finsync made, in order; empty when there is none.
  Result<std::vector<std::string>> key_index(const std::string& table) {
    CursorPtr cursor(mongoc_collection_find_indexes_with_opts(collection(table), nullptr));
    std::vector<std::string> key;
    auto r = each(cursor.get(), "listing indexes", [&](const bson_t* index) {
      if (utf8_at(index, "name") != kKeyIndex) return;
      bson_iter_t it;
      bson_t k;
      if (!bson_iter_init_find(&it, index, "key") || !sub_document(&it, &k)) return;
      bson_iter_t f;
      bson_iter_init(&f, &k);
      while (bson_iter_next(&f)) key.emplace_back(bson_iter_key(&f));
    });
    // (libmongoc answers a collection that does not exist with no indexes.)
    if (!r) return fail(r.error());
    return key;
  }

  // create: `create` with the validator, or (the collection exists: made by hand, by another
  // writer a moment ago, or before this schema) `collMod` to set it.
  Result<void> set_validator(const std::string& table, const bson_t* validator, bool create) {
    Bson reply;
    bson_error_t err;
    if (create) {
      Bson cmd;
      BSON_APPEND_UTF8(cmd.get(), "create", table.c_str());
      BSON_APPEND_DOCUMENT(cmd.get(), "validator", validator);
      BSON_APPEND_UTF8(cmd.get(), "validationLevel", "strict");
      BSON_APPEND_UTF8(cmd.get(), "validationAction", "error");
      if (mongoc_database_write_command_with_opts(db_.get(), cmd.get(), nullptr, reply.get(), &err))
        return {};
      if (!(err.domain == MONGOC_ERROR_SERVER && err.code == 48 /* NamespaceExists */))
        return fail(mongo_error(fmt::format("creating collection {}", table), err, reply.get()));
      bson_reinit(reply.get());
    }
    Bson cmd;
    BSON_APPEND_UTF8(cmd.get(), "collMod", table.c_str());
    BSON_APPEND_DOCUMENT(cmd.get(), "validator", validator);
    BSON_APPEND_UTF8(cmd.get(), "validationLevel", "strict");
    BSON_APPEND_UTF8(cmd.get(), "validationAction", "error");
    if (!mongoc_database_write_command_with_opts(db_.get(), cmd.get(), nullptr, reply.get(), &err))
      return fail(mongo_error(fmt::format("setting the validator of {}", table), err, reply.get()));
    return {};
  }

  ClientPtr client_;
  std::string db_name_;
  std::string user_;
  DatabasePtr db_;
  WriteConcernPtr journaled_;
  bson_t upsert_opts_;
  bson_t insert_opts_;
  std::map<std::string, CollectionPtr> collections_;
  std::map<std::string, std::unique_ptr<RowMapper>> mappers_;
};

// The connection string, parsed, with the password applied.
struct ParsedDsn {
  UriPtr uri;
  std::string where;  // "host:port[,host:port]/db", no secret
  std::string db;
  std::string user;
};

Result<ParsedDsn> parse_dsn(const SinkSpec& spec) {
  auto bad = [&](std::string why) {
    return fail(ErrorKind::invalid_input,
                secrets::mask(fmt::format("{}: {}", spec.located("dsn"), why)));
  };
  if (spec.dsn.empty()) return bad("a mongodb sink needs a dsn (mongodb://user@host:27017/db)");
  bson_error_t err;
  ParsedDsn p;
  p.uri.reset(mongoc_uri_new_with_error(spec.dsn.c_str(), &err));
  if (!p.uri) return bad(fmt::format("not a MongoDB connection string: {}", err.message));
  mongoc_uri_t* uri = p.uri.get();
  const char* db = mongoc_uri_get_database(uri);
  if (db == nullptr || *db == '\0')
    return bad("the dsn names no database: write it as the path, mongodb://host:27017/DB");
  p.db = db;
  const char* user = mongoc_uri_get_username(uri);
  p.user = user != nullptr ? user : "";
  if (!spec.password.empty()) {
    if (user == nullptr)
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: a password needs a user in the dsn (mongodb://USER@host/db)",
                              spec.located("password")));
    secrets::register_secret(spec.password);
    mongoc_uri_set_password(uri, spec.password.c_str());
  }
  if (const char* pw = mongoc_uri_get_password(uri); pw != nullptr && *pw != '\0')
    secrets::register_secret(pw);
  const mongoc_write_concern_t* wc = mongoc_uri_get_write_concern(uri);
  if (wc != nullptr && mongoc_write_concern_get_w(wc) == MONGOC_WRITE_CONCERN_W_UNACKNOWLEDGED)
    return bad(
        "w=0 (unacknowledged writes) cannot tell landed rows from lost ones; use w=1 or "
        "w=majority");
  if (mongoc_uri_get_appname(uri) == nullptr) mongoc_uri_set_appname(uri, "finsync");
  std::string hosts;
  for (const mongoc_host_list_t* h = mongoc_uri_get_hosts(uri); h != nullptr; h = h->next)
    hosts += (hosts.empty() ? "" : ",") + std::string(h->host_and_port);
  if (hosts.empty() && mongoc_uri_get_srv_hostname(uri) != nullptr)
    hosts = std::string("srv:") + mongoc_uri_get_srv_hostname(uri);
  p.where = fmt::format("{}/{}", hosts, p.db);
  return p;
}

class MongoDriver final : public db::Driver {
 public:
  // `parsed` is empty when the spec still holds ${VAR}s (a plan checked without its
  // environment): connect() parses then.
  MongoDriver(SinkSpec spec, std::optional<ParsedDsn> parsed)
      : spec_(std::move(spec)), parsed_(std::move(parsed)) {}

  std::string_view kind() const override { return "mongodb"; }
  std::string where() const override { return parsed_ ? parsed_->where : secrets::mask(spec_.dsn); }
  db::Capabilities capabilities() const override {
    db::Capabilities c;
    c.transactions = false;
    c.multi_writer = true;
    c.non_finite_doubles = true;
    return c;
  }
  std::string column_type(DataType type) const override { return bson_type_name(type); }
  db::ValueLimits limits() const override {
    // BSON dates span ±292 million years, but the shell's ISODate and most drivers (Python's
    // datetime, Java's formatting) read years 1-9999 only: a value outside could be written and
    // not read back.
    db::ValueLimits l;
    l.min_day = dates::days_from_civil(1, 1, 1);
    l.max_day = dates::days_from_civil(9999, 12, 31);
    l.min_micros = int64_t(l.min_day) * 86'400'000'000;
    l.max_micros = (int64_t(l.max_day) + 1) * 86'400'000'000 - 1000;
    l.date_range = "0001-01-01..9999-12-31";
    l.timestamp_range = "0001-01-01T00:00:00Z..9999-12-31T23:59:59.999Z";
    return l;
  }
  int64_t default_batch_size() const override { return 10'000; }

  Result<std::unique_ptr<db::Session>> connect() override {
    if (!parsed_) {
      auto p = parse_dsn(spec_);
      if (!p) return fail(p.error());
      parsed_ = std::move(*p);
    }
    bson_error_t err;
    ClientPtr client(mongoc_client_new_from_uri_with_error(parsed_->uri.get(), &err));
    if (!client)
      return fail(ErrorKind::invalid_input,
                  secrets::mask(fmt::format("the dsn is not usable: {}", err.message)));
    mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
    auto s = std::make_unique<MongoSession>(std::move(client), parsed_->db, parsed_->user);
    if (auto r = s->ping(); !r) return fail(r.error());
    return std::unique_ptr<db::Session>(std::move(s));
  }

 private:
  SinkSpec spec_;
  std::optional<ParsedDsn> parsed_;
};

}  // namespace

Result<std::unique_ptr<db::Driver>> make_driver(const SinkSpec& spec) {
  init_mongoc();
  const bool unexpanded =
      spec.dsn.find("${") != std::string::npos || spec.password.find("${") != std::string::npos;
  if (unexpanded) {
    if (spec.dsn.empty())
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: a mongodb sink needs a dsn", spec.located("dsn")));
    return std::unique_ptr<db::Driver>(std::make_unique<MongoDriver>(spec, std::nullopt));
  }
  auto parsed = parse_dsn(spec);
  if (!parsed) return fail(parsed.error());
  return std::unique_ptr<db::Driver>(std::make_unique<MongoDriver>(spec, std::move(*parsed)));
}

}  // namespace finsync::sink::mongodb
