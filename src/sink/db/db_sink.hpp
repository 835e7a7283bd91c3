#pragma once
// DbSink: the Sink every database kind stands on (Vector-style: the framework owns transport,
// retries and batching; a Driver only maps data, see driver.hpp).
//
//   open()    connect, validate the table spec, create _finsync_landed and the table (endpoint's
//             primary key, key columns NOT NULL), or compare the existing one: schema_drift
//             fail -> invalid_input with the exact difference; evolve -> ADD COLUMN per new field.
//   write()   keeps a copy of the batch (nothing is sent: a landing must be re-runnable whole
//             after a reconnect). Memory is bounded by what the engine lands per commit.
//   commit()  one transaction: replace deletes, the rows in batch_size pieces, one marker per
//             checkpoint (+ the checkpoints themselves when a CheckpointWriter is set), COMMIT;
//             then persist() for each checkpoint unless written inside. A transient failure
//             reconnects with exponential backoff and re-runs it all, up to max_retries times.
//   close()   the stats: commits, reconnects, retries, columns added.
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sink/db/driver.hpp"
#include "sink/sink.hpp"

namespace finsync::sink::db {

struct RetryPolicy {
  int max_retries = 10;  // re-runs of one landing after transient failures
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5000};
};

struct DbOptions {
  int64_t batch_size = 0;  // 0: the driver's default
  SchemaDrift drift = SchemaDrift::fail;
  ReplaceScope replace = ReplaceScope::table;
  RetryPolicy retry;
};

// The keys every database sink takes besides its own: table, mode, replace, dsn, password,
// batch_size, schema_drift, max_retries. Reads them from the spec (validated with where-info).
Result<DbOptions> db_options(const SinkSpec& spec);

// Exactly-once: writes the checkpoints of a landing on the landing's own session, inside its
// transaction, after the markers. Set by app/ through the kind's module (e.g.
// sink/postgres/pg_sink.hpp) when the state store lives in the same database.
using CheckpointWriter = std::function<Result<void>(Session&, std::span<const Checkpoint>)>;

// Whether the framework reconnects and re-runs a landing after this error.
bool is_retryable(const Error& e);

class DbSink final : public Sink {
 public:
  DbSink(std::unique_ptr<Driver> driver, SinkSpec spec, DbOptions options);
  ~DbSink() override;

  Result<void> open(const TableSpec& table) override;
  Result<void> write(const RecordBatch& batch) override;
  using Sink::commit;
  Result<void> commit(std::span<const Checkpoint> checkpoints) override;
  Result<void> rollback() override;
  Result<std::map<std::string, int64_t>> landed_tasks(const std::string& plan) override;
  Result<LandedDays> landed_days(const TableSpec& table, const std::string& symbol_column) override;
  Result<SinkStats> close() override;
  Result<void> health() override;
  // On a sink that is not open (`finsync sinks check` makes one of its own).
  Result<SinkCheck> check(const TableSpec& table) override;
  bool multi_writer() const override;

  void set_checkpoint_writer(CheckpointWriter writer) { checkpoint_writer_ = std::move(writer); }
  bool has_checkpoint_writer() const { return static_cast<bool>(checkpoint_writer_); }
  Driver& driver() { return *driver_; }
  const TableDesign& design() const { return design_; }
  const SinkStats& stats() const { return stats_; }

  // Test seam: how the framework waits between retries (default: sleeps).
  void set_sleep(std::function<void(std::chrono::milliseconds)> sleep) {
    sleep_ = std::move(sleep);
  }

 private:
  // The table compared with the plan: differences that stop open() (all of them with
  // schema_drift: fail) and, with evolve, the columns to add.
  struct Drift {
    SchemaDiff diff;
    std::vector<std::string> blocking;
    std::vector<ColumnShape> add;
  };

  Result<Session*> session();
  void drop_session();
  TableDesign design_for(const TableSpec& table) const;
  TableShape expected_shape() const;
  Drift compare(const TableShape& found) const;
  Result<void> prepare_table(Session& s);
  Result<void> check_values(const RecordBatch& batch) const;
  Result<void> land_once(Session& s, std::span<const Checkpoint> cps,
                         const std::vector<Marker>& markers, bool delete_table);
  // Runs `step` on a session, reconnecting and re-running it after transient failures.
  template <class F>
  auto with_retries(std::string_view what, F&& step) -> decltype(step(std::declval<Session&>()));
  Error wrap(const Error& e, std::string_view what) const;
  std::string target() const;

  std::unique_ptr<Driver> driver_;
  SinkSpec spec_;
  DbOptions options_;
  std::unique_ptr<Session> session_;
  bool connected_once_ = false;
  bool lost_ = false;  // the last session was dropped after a failure: the next is a reconnect
  CheckpointWriter checkpoint_writer_;
  std::function<void(std::chrono::milliseconds)> sleep_;

  TableDesign design_;
  std::string plan_;  // landing key of the markers
  bool opened_ = false;
  bool replaced_ = false;  // replace: table: emptied for this plan definition already
  std::vector<RecordBatch> buffer_;
  bool poisoned_ = false;  // a write() was refused: commit() refuses until rollback()
  SinkStats stats_;
};

// Builds a DbSink after checking the common keys.
Result<std::unique_ptr<DbSink>> make_db_sink(std::unique_ptr<Driver> driver, const SinkSpec& spec);

}  // namespace finsync::sink::db
