// Each decision is one BEGIN IMMEDIATE transaction: SQLite's write lock is what makes two
// processes on one state file share a budget without ever both taking the last slot.
#include "state/sqlite_ledger.hpp"

#include <mutex>

#include "state/micros.hpp"

namespace finsync::state {
namespace {

using ratelimit::LedgerState;
using sqlite::Db;
using sqlite::Transaction;

class SqliteLedger final : public ratelimit::LedgerStore {
 public:
  explicit SqliteLedger(Db db) : db_(std::move(db)) {}

  Result<void> transact(const std::string& provider, TimePoint now, TimePoint prune_before,
                        const std::function<void(LedgerState&)>& fn) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_, "quota ledger");
    if (!tx) return fail(tx.error());
    if (auto r = prune(provider, now, prune_before); !r) return r;
    LedgerState s;
    if (auto r = load(provider, s); !r) return r;
    fn(s);
    if (auto r = save(provider, s); !r) return r;
    return tx->commit();
  }

 private:
  Result<void> prune(const std::string& provider, TimePoint now, TimePoint before) {
    auto q = db_.query(
        "DELETE FROM quota_slots WHERE provider = ?1 AND ((done_at IS NOT NULL AND done_at < ?2) "
        "OR (done_at IS NULL AND stale_at < ?3))",
        "quota ledger: prune");
    if (!q) return fail(q.error());
    if (auto r = q->bind(1, provider).bind(2, to_micros(before)).bind(3, to_micros(now)).run(); !r)
      return r;
    auto b = db_.query("DELETE FROM quota_blocks WHERE provider = ?1 AND until_at <= ?2",
                       "quota ledger: prune");
    if (!b) return fail(b.error());
    return b->bind(1, provider).bind(2, to_micros(now)).run();
  }

  Result<void> load(const std::string& provider, LedgerState& s) {
    {
      auto q = db_.query(
          "SELECT id, account, endpoint, weight, sent_at, done_at, stale_at FROM quota_slots "
          "WHERE provider = ?1",
          "quota ledger: load");
      if (!q) return fail(q.error());
      q->bind(1, provider);
      for (;;) {
        auto row = q->step();
        if (!row) return fail(row.error());
        if (!*row) break;
        ratelimit::Slot x;
        x.id = q->int64(0);
        x.account = q->text(1);
        x.endpoint = q->text(2);
        x.weight = q->int64(3);
        x.sent = from_micros(q->int64(4));
        if (!q->is_null(5)) x.done = from_micros(q->int64(5));
        x.stale_after = from_micros(q->int64(6));
        s.slots.push_back(std::move(x));
      }
    }
    {
      auto q = db_.query(
          "SELECT window_name, period_start, used FROM quota_counters WHERE provider = ?1",
          "quota ledger: load");
      if (!q) return fail(q.error());
      q->bind(1, provider);
      for (;;) {
        auto row = q->step();
        if (!row) return fail(row.error());
        if (!*row) break;
        s.counters.push_back(
            ratelimit::Counter{q->text(0), from_micros(q->int64(1)), q->int64(2), false});
      }
    }
    auto q = db_.query(
        "SELECT account, endpoint, until_at, reason FROM quota_blocks WHERE provider = ?1",
        "quota ledger: load");
    if (!q) return fail(q.error());
    q->bind(1, provider);
    for (;;) {
      auto row = q->step();
      if (!row) return fail(row.error());
      if (!*row) break;
      s.blocks.push_back(
          ratelimit::Block{q->text(0), q->text(1), from_micros(q->int64(2)), q->text(3), false});
    }
    return {};
  }

  Result<void> save(const std::string& provider, const LedgerState& s) {
    for (const auto& x : s.slots) {
      if (x.added) {
        auto q = db_.query(
            "INSERT INTO quota_slots(id, provider, account, endpoint, weight, sent_at, done_at, "
            "stale_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            "quota ledger: add slot");
        if (!q) return fail(q.error());
        std::optional<int64_t> done;
        if (x.done) done = to_micros(*x.done);
        if (auto r = q->bind(1, x.id)
                         .bind(2, provider)
                         .bind(3, x.account)
                         .bind(4, x.endpoint)
                         .bind(5, x.weight)
                         .bind(6, to_micros(x.sent))
                         .bind(7, done)
                         .bind(8, to_micros(x.stale_after))
                         .run();
            !r)
          return r;
      } else if (x.dirty && x.done) {
        auto q = db_.query("UPDATE quota_slots SET done_at = ?2 WHERE id = ?1",
                           "quota ledger: release slot");
        if (!q) return fail(q.error());
        if (auto r = q->bind(1, x.id).bind(2, to_micros(*x.done)).run(); !r) return r;
      }
    }
    for (const auto& c : s.counters) {
      if (!c.dirty) continue;
      auto q = db_.query(
          "INSERT INTO quota_counters(provider, window_name, period_start, used) VALUES (?1, ?2, "
          "?3, "
          "?4) ON CONFLICT(provider, window_name) DO UPDATE SET period_start = "
          "excluded.period_start, "
          "used = excluded.used",
          "quota ledger: count");
      if (!q) return fail(q.error());
      if (auto r = q->bind(1, provider)
                       .bind(2, c.window)
                       .bind(3, to_micros(c.period_start))
                       .bind(4, c.used)
                       .run();
          !r)
        return r;
    }
    for (const auto& b : s.blocks) {
      if (!b.dirty) continue;
      auto q = db_.query(
          "INSERT INTO quota_blocks(provider, account, endpoint, until_at, reason) VALUES (?1, ?2, "
          "?3, ?4, ?5) ON CONFLICT(provider, account, endpoint) DO UPDATE SET until_at = "
          "excluded.until_at, reason = excluded.reason",
          "quota ledger: block");
      if (!q) return fail(q.error());
      if (auto r = q->bind(1, provider)
                       .bind(2, b.account)
                       .bind(3, b.endpoint)
                       .bind(4, to_micros(b.until))
                       .bind(5, b.reason)
                       .run();
          !r)
        return r;
    }
    return {};
  }

  std::mutex mu_;
  Db db_;
};

}  // namespace

std::unique_ptr<ratelimit::LedgerStore> make_sqlite_ledger(Db db) {
  return std::make_unique<SqliteLedger>(std::move(db));
}

}  // namespace finsync::state
