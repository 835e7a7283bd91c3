#include "sink/db/db_sink.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/dates.hpp"
#include "core/failpoint.hpp"
#include "core/secrets.hpp"
#include "sink/spec_check.hpp"

namespace finsync::sink::db {

namespace {

std::string new_commit_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

double jitter() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.5, 1.0)(rng);
}

std::string micros_text(int64_t us) {
  const int64_t day = us >= 0 ? us / 86'400'000'000 : -((-us + 86'399'999'999) / 86'400'000'000);
  const int64_t rest = us - day * 86'400'000'000;
  return fmt::format("{}T{:02}:{:02}:{:02}.{:06}Z", dates::format(int32_t(day), "%Y-%m-%d"),
                     rest / 3'600'000'000, rest / 60'000'000 % 60, rest / 1'000'000 % 60,
                     rest % 1'000'000);
}

}  // namespace

Result<DbOptions> db_options(const SinkSpec& spec) {
  DbOptions o;
  o.batch_size = spec.batch_size;
  o.drift = spec.schema_drift;
  o.replace = spec.replace;
  auto retries = option_int(spec, "max_retries", o.retry.max_retries, 0);
  if (!retries) return fail(retries.error());
  o.retry.max_retries = int(*retries);
  return o;
}

bool is_retryable(const Error& e) {
  return e.kind == ErrorKind::transient;
}

DbSink::DbSink(std::unique_ptr<Driver> driver, SinkSpec spec, DbOptions options)
    : driver_(std::move(driver)), spec_(std::move(spec)), options_(options) {
  if (options_.batch_size <= 0) options_.batch_size = driver_->default_batch_size();
  sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

DbSink::~DbSink() = default;

std::string DbSink::target() const {
  if (design_.name.empty()) return fmt::format("{} sink {}", driver_->kind(), driver_->where());
  return fmt::format("{} sink {} table {}", driver_->kind(), driver_->where(), design_.name);
}

Error DbSink::wrap(const Error& e, std::string_view what) const {
  return Error{e.kind, secrets::mask(fmt::format("{}: {}: {}", target(), what, e.message)),
               e.retry_at};
}

Result<Session*> DbSink::session() {
  if (session_) return session_.get();
  auto s = driver_->connect();
  if (!s) return fail(s.error());
  if (lost_) {
    ++stats_.reconnects;
    spdlog::info("{}: reconnected", target());
  }
  connected_once_ = true;
  lost_ = false;
  session_ = std::move(*s);
  return session_.get();
}

void DbSink::drop_session() {
  session_.reset();
}

template <class F>
auto DbSink::with_retries(std::string_view what, F&& step)
    -> decltype(step(std::declval<Session&>())) {
  std::chrono::milliseconds backoff = options_.retry.initial;
  for (int attempt = 0;; ++attempt) {
    Error err;
    auto s = session();
    if (s) {
      auto r = step(**s);
      if (r) return r;
      // A store over HTTP opens connections as it goes: one refused in the middle of a landing
      // is the server restarting, like a refused reconnect.
      if (!is_retryable(r.error()) && r.error().kind != ErrorKind::unreachable) return r;
      err = r.error();
      drop_session();
      lost_ = true;
    } else {
      err = s.error();
      // No server yet at the first connect: say so at once. Once it has answered, a refused
      // connection is a server restarting: worth waiting for.
      const bool restarting = connected_once_ && err.kind == ErrorKind::unreachable;
      if (!is_retryable(err) && !restarting) return fail(err);
    }
    if (attempt >= options_.retry.max_retries)
      return fail(Error{err.kind,
                        fmt::format("{} (gave up after {} retries)", err.message, attempt),
                        std::nullopt});
    const auto wait = std::chrono::milliseconds(int64_t(double(backoff.count()) * jitter()));
    spdlog::warn("{}: {}: {}; retrying in {} ms", target(), what, secrets::mask(err.message),
                 wait.count());
    sleep_(wait);
    backoff = std::min(backoff * 2, options_.retry.max);
  }
}

TableDesign DbSink::design_for(const TableSpec& t) const {
  TableDesign d;
  d.name = t.table.empty() ? spec_.table : t.table;
  d.schema = t.schema;
  d.key = t.primary_key;
  for (const auto& f : t.schema.fields) {
    const bool key = std::find(d.key.begin(), d.key.end(), f.name) != d.key.end();
    d.types.push_back(key ? driver_->key_column_type(f.type) : driver_->column_type(f.type));
  }
  d.mode = spec_.mode != WriteMode::upsert ? spec_.mode : t.mode;
  d.unique_key = d.mode != WriteMode::append && !d.key.empty();
  d.time_column = t.time_column;
  return d;
}

TableShape DbSink::expected_shape() const {
  TableShape s;
  for (size_t i = 0; i < design_.schema.fields.size(); ++i) {
    const auto& f = design_.schema.fields[i];
    const bool key = std::find(design_.key.begin(), design_.key.end(), f.name) != design_.key.end();
    s.columns.push_back({f.name, design_.types[i], !key});
  }
  if (design_.unique_key) s.key = design_.key;
  return s;
}

DbSink::Drift DbSink::compare(const TableShape& found) const {
  TableShape want = expected_shape();
  // Append mode lands into any key (or none): only upsert and replace need theirs.
  TableShape have = found;
  if (!design_.unique_key) have.key.clear();
  auto same = [this](std::string_view a, std::string_view b) { return driver_->same_type(a, b); };
  Drift d;
  d.diff = diff_tables(want, have, same);
  DriftPlan p = plan_drift(d.diff, options_.drift, design_.key);
  d.blocking = std::move(p.blocking);
  d.add = std::move(p.add);
  return d;
}

Result<void> DbSink::prepare_table(Session& s) {
  if (auto r = s.create_markers(); !r) return r;
  auto found = s.describe(design_.name);
  if (!found) return fail(found.error());
  if (!*found) return s.create_table(design_);
  Drift d = compare(**found);
  if (!d.blocking.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("table {} does not match the plan's schema (schema_drift: {}): {}; "
                            "expected {}, found {}",
                            design_.name, to_string(options_.drift), fmt::join(d.blocking, "; "),
                            describe(expected_shape().columns), describe((*found)->columns)));
  for (const auto& c : d.add) {
    const int i = design_.field_index(c.name);
    if (auto r = s.add_column(design_, design_.schema.fields[i], c.type); !r) return r;
    ++stats_.columns_added;
    spdlog::info("{}: added column {} {} (schema_drift: evolve)", target(), c.name, c.type);
  }
  return {};
}

Result<void> DbSink::open(const TableSpec& table) {
  if (opened_)
    return fail(ErrorKind::invalid_input,
                fmt::format("{} is already open; one sink object lands one table", target()));
  TableDesign d = design_for(table);
  TableSpec t = table;
  t.table = d.name;
  if (auto v = validate_table(t, d.mode, target()); !v) return v;
  if (d.mode == WriteMode::replace && options_.replace == ReplaceScope::partition &&
      d.time_column.empty() && d.key.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: replace: partition needs a time column or a key to say which "
                            "rows a task owns",
                            target()));
  design_ = std::move(d);
  plan_ = table.plan;
  auto prepared = with_retries("open", [this](Session& s) { return prepare_table(s); });
  if (!prepared) return fail(wrap(prepared.error(), "open"));
  opened_ = true;
  replaced_ = false;
  if (design_.mode == WriteMode::replace && options_.replace == ReplaceScope::table) {
    // Replace empties the table once per plan definition: a resumed run keeps the rows of the
    // tasks landed before it.
    auto landed = landed_tasks(plan_);
    if (!landed) return fail(landed.error());
    replaced_ = !landed->empty();
  }
  return {};
}

Result<void> DbSink::check_values(const RecordBatch& b) const {
  const ValueLimits lim = driver_->limits();
  const bool finite_only = !driver_->capabilities().non_finite_doubles;
  for (size_t c = 0; c < b.num_columns(); ++c) {
    const Field& f = b.schema().fields[c];
    const Column& col = b.column(c);
    const bool key = std::find(design_.key.begin(), design_.key.end(), f.name) != design_.key.end();
    for (size_t r = 0; r < col.size(); ++r) {
      auto bad = [&](std::string what) {
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: row {}, column {}: {}; nothing of this batch was written",
                                target(), r + 1, f.name, what));
      };
      if (!col.valid(r)) {
        if (key) return bad("NULL in a primary key column (key columns are NOT NULL)");
        continue;
      }
      switch (f.type) {
        case DataType::date: {
          const int64_t v = col.int_at(r);
          if (v < lim.min_day || v > lim.max_day)
            return bad(fmt::format("date {} is outside what a {} date holds ({})",
                                   v >= INT32_MIN && v <= INT32_MAX
                                       ? dates::format(int32_t(v), "%Y-%m-%d")
                                       : std::to_string(v) + " days",
                                   driver_->kind(), lim.date_range));
          break;
        }
        case DataType::timestamp: {
          const int64_t v = col.int_at(r);
          if (v < lim.min_micros || v > lim.max_micros)
            return bad(fmt::format("timestamp {} is outside what a {} timestamp holds ({})",
                                   micros_text(v), driver_->kind(), lim.timestamp_range));
          if (v % lim.micros_step != 0)
            return bad(fmt::format("timestamp {} is finer than a {} timestamp holds ({} µs steps)",
                                   micros_text(v), driver_->kind(), lim.micros_step));
          break;
        }
        case DataType::float64:
          if (finite_only && !std::isfinite(col.double_at(r)))
            return bad(fmt::format("{} cannot be stored in a {} float column", col.double_at(r),
                                   driver_->kind()));
          break;
        default:
          break;
      }
    }
  }
  return {};
}

Result<void> DbSink::write(const RecordBatch& batch) {
  if (!opened_)
    return fail(ErrorKind::invalid_input, fmt::format("{}: write before open", target()));
  if (batch.num_rows() == 0) return {};
  const Schema& want = design_.schema;
  RecordBatch copy;
  if (batch.schema() == want) {
    copy = batch;
  } else {
    // Same columns in another order: put them in the table's order.
    if (batch.schema().fields.size() != want.fields.size())
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: a batch with {} columns for a table of {}", target(),
                              batch.schema().fields.size(), want.fields.size()));
    copy = RecordBatch(want);
    for (size_t i = 0; i < want.fields.size(); ++i) {
      const int j = batch.schema().index_of(want.fields[i].name);
      if (j < 0 || batch.schema().fields[j].type != want.fields[i].type)
        return fail(ErrorKind::invalid_input,
                    fmt::format("{}: the batch has no column {} {}", target(), want.fields[i].name,
                                to_string(want.fields[i].type)));
      copy.column(i) = batch.column(j);
    }
  }
  if (auto v = check_values(copy); !v) {
    poisoned_ = true;
    return v;
  }
  buffer_.push_back(std::move(copy));
  return {};
}

Result<void> DbSink::land_once(Session& s, std::span<const Checkpoint> cps,
                               const std::vector<Marker>& markers, bool delete_table) {
  auto step = [&]() -> Result<void> {
    if (auto r = s.begin(); !r) return r;
    if (delete_table) {
      // Asked again inside the transaction: another process landing the same plan may have
      // emptied the table and landed since this sink opened; its rows stay.
      auto landed = s.landed(plan_);
      if (!landed) return fail(landed.error());
      if (landed->empty())
        if (auto r = s.delete_all(design_); !r) return r;
    }
    if (design_.mode == WriteMode::replace && options_.replace == ReplaceScope::partition)
      for (const auto& cp : cps)
        if (!cp.scope.empty())
          if (auto r = s.delete_scope(design_, cp.scope); !r) return r;
    const size_t bs = size_t(options_.batch_size);
    bool hit = false;
    for (const auto& b : buffer_) {
      for (size_t i = 0; i < b.num_rows(); i += bs) {
        if (auto r = s.write_rows(design_, b, i, std::min(b.num_rows(), i + bs)); !r) return r;
        if (!hit) {
          hit = true;
          if (auto f = FINSYNC_FAILPOINT("sink.inside_staging_write"); !f) return f;
        }
      }
    }
    if (auto r = s.finish_rows(design_); !r) return r;
    if (auto r = s.write_markers(markers); !r) return r;
    if (checkpoint_writer_)
      if (auto r = checkpoint_writer_(s, cps); !r) return r;
    return s.commit();
  };
  auto r = step();
  if (!r) s.rollback();
  return r;
}

Result<void> DbSink::commit(std::span<const Checkpoint> cps) {
  if (!opened_)
    return fail(ErrorKind::invalid_input, fmt::format("{}: commit before open", target()));
  if (poisoned_) {
    (void)rollback();
    return fail(ErrorKind::internal,
                fmt::format("{}: commit after a failed write without rollback; the rows were "
                            "dropped",
                            target()));
  }
  const std::string commit_id = new_commit_id();
  const TimePoint now = Clock_t::now();
  std::vector<Marker> markers;
  markers.reserve(cps.size());
  for (const auto& cp : cps) {
    // One marker per (task, page): a page landed twice in one commit keeps its last count.
    auto same = std::find_if(markers.begin(), markers.end(), [&](const Marker& m) {
      return m.task_id == cp.task_id && m.page == cp.page;
    });
    Marker m{plan_, cp.task_id, cp.window, cp.page, cp.rows, commit_id, now};
    if (same != markers.end())
      *same = std::move(m);
    else
      markers.push_back(std::move(m));
  }
  const bool delete_table =
      design_.mode == WriteMode::replace && options_.replace == ReplaceScope::table && !replaced_;
  int runs = 0;
  auto landed = with_retries("landing", [&](Session& s) -> Result<void> {
    if (runs++ > 0) {
      // The last try may have committed with its answer lost: its markers say so.
      auto done = s.committed(commit_id);
      if (!done) return fail(done.error());
      if (*done) return {};
      ++stats_.retries;
    }
    return land_once(s, cps, markers, delete_table);
  });
  buffer_.clear();
  if (!landed) return fail(wrap(landed.error(), "landing"));
  ++stats_.commits;
  if (delete_table) replaced_ = true;
  if (auto f = FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint"); !f) return f;
  for (const auto& cp : cps) {
    if (checkpoint_writer_ && cp.task != nullptr) continue;  // committed with the rows
    if (!cp.persist) continue;
    if (auto p = cp.persist(); !p)
      return fail(Error{p.error().kind,
                        fmt::format("{}: task {} is landed but its checkpoint was not saved: {}",
                                    target(), cp.task_id, p.error().message),
                        p.error().retry_at});
  }
  return {};
}

Result<void> DbSink::rollback() {
  buffer_.clear();
  poisoned_ = false;
  return {};
}

Result<std::map<std::string, int64_t>> DbSink::landed_tasks(const std::string& plan) {
  auto r = with_retries("reading landed markers", [&](Session& s) { return s.landed(plan); });
  if (!r) return fail(wrap(r.error(), "reading landed markers"));
  return r;
}

Result<LandedDays> DbSink::landed_days(const TableSpec& table, const std::string& symbol_column) {
  const TableDesign d = design_for(table);
  if (d.time_column.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: the endpoint has no time column to verify by", target()));
  auto r = with_retries("reading the landed days", [&](Session& s) -> Result<LandedDays> {
    auto found = s.describe(d.name);
    if (!found) return fail(found.error());
    if (!*found) return LandedDays{};  // nothing landed yet
    return s.landed_days(d, symbol_column);
  });
  if (!r) return fail(wrap(r.error(), "reading the landed days"));
  return r;
}

Result<SinkStats> DbSink::close() {
  buffer_.clear();
  drop_session();
  opened_ = false;
  return stats_;
}

Result<void> DbSink::health() {
  auto r = with_retries("health check", [](Session& s) -> Result<void> {
    auto v = s.server_version();
    if (!v) return fail(v.error());
    return {};
  });
  if (!r) return fail(wrap(r.error(), "health check"));
  return {};
}

Result<SinkCheck> DbSink::check(const TableSpec& table) {
  design_ = design_for(table);
  SinkCheck out;
  out.store = fmt::format("{} {}", driver_->kind(), driver_->where());
  auto s = session();
  if (!s) return fail(wrap(s.error(), "check"));
  auto version = (*s)->server_version();
  if (!version) return fail(wrap(version.error(), "check"));
  out.server = *version;
  auto found = (*s)->describe(design_.name);
  if (!found) return fail(wrap(found.error(), "check"));
  out.table_exists = found->has_value();
  out.notes.push_back(fmt::format(
      "mode {}{}, schema_drift {}, batch_size {}", to_string(design_.mode),
      design_.mode == WriteMode::replace ? fmt::format(" ({})", to_string(options_.replace)) : "",
      to_string(options_.drift), options_.batch_size));
  if (*found) {
    Drift drift = compare(**found);
    out.differences = drift.blocking;
    for (const auto& c : drift.add)
      out.notes.push_back(fmt::format("schema_drift: evolve adds column {} {}", c.name, c.type));
  }
  drop_session();
  return out;
}

bool DbSink::multi_writer() const {
  return driver_->capabilities().multi_writer;
}

Result<std::unique_ptr<DbSink>> make_db_sink(std::unique_ptr<Driver> driver, const SinkSpec& spec) {
  auto options = db_options(spec);
  if (!options) return fail(options.error());
  return std::make_unique<DbSink>(std::move(driver), spec, *options);
}

}  // namespace finsync::sink::db
