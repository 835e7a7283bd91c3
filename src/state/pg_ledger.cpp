// Each decision is one transaction under an advisory lock per provider: workers on several
// machines sharing the database take turns, so two of them never both take the last slot.
#include "state/pg_ledger.hpp"

#include <mutex>

#include "state/micros.hpp"

namespace finsync::state {
namespace {

using pg::Conn;
using pg::Param;
using ratelimit::LedgerState;

class PgLedger final : public ratelimit::LedgerStore {
 public:
  explicit PgLedger(Conn conn) : conn_(std::move(conn)) {}

  Result<void> transact(const std::string& provider, TimePoint now, TimePoint prune_before,
                        const std::function<void(LedgerState&)>& fn) override {
    std::lock_guard lock(mu_);
    if (auto r = conn_.ensure(); !r) return r;
    conn_.start_operation();
    auto tx = pg::Transaction::begin(conn_, "quota ledger");
    if (!tx) return fail(tx.error());
    auto step = [&](const char* sql, const std::vector<Param>& params) -> Result<pg::Rows> {
      return conn_.exec("quota ledger", sql, params);
    };
    if (auto r = step("SELECT pg_advisory_xact_lock(hashtext('finsync.quota.' || $1))", {provider});
        !r)
      return fail(r.error());
    if (auto r = step(
            "DELETE FROM quota_slots WHERE provider = $1 AND ((done_at IS NOT NULL AND done_at < "
            "$2) OR (done_at IS NULL AND stale_at < $3))",
            {provider, to_micros(prune_before), to_micros(now)});
        !r)
      return fail(r.error());
    if (auto r = step("DELETE FROM quota_blocks WHERE provider = $1 AND until_at <= $2",
                      {provider, to_micros(now)});
        !r)
      return fail(r.error());
    LedgerState s;
    auto slots = step(
        "SELECT id, account, endpoint, weight, sent_at, done_at, stale_at FROM quota_slots WHERE "
        "provider = $1",
        {provider});
    if (!slots) return fail(slots.error());
    for (int i = 0; i < slots->size(); ++i) {
      ratelimit::Slot x;
      x.id = slots->int64(i, 0);
      x.account = slots->text(i, 1);
      x.endpoint = slots->text(i, 2);
      x.weight = slots->int64(i, 3);
      x.sent = from_micros(slots->int64(i, 4));
      if (!slots->is_null(i, 5)) x.done = from_micros(slots->int64(i, 5));
      x.stale_after = from_micros(slots->int64(i, 6));
      s.slots.push_back(std::move(x));
    }
    auto counters =
        step("SELECT window_name, period_start, used FROM quota_counters WHERE provider = $1",
             {provider});
    if (!counters) return fail(counters.error());
    for (int i = 0; i < counters->size(); ++i)
      s.counters.push_back(ratelimit::Counter{
          counters->text(i, 0), from_micros(counters->int64(i, 1)), counters->int64(i, 2), false});
    auto blocks =
        step("SELECT account, endpoint, until_at, reason FROM quota_blocks WHERE provider = $1",
             {provider});
    if (!blocks) return fail(blocks.error());
    for (int i = 0; i < blocks->size(); ++i)
      s.blocks.push_back(ratelimit::Block{blocks->text(i, 0), blocks->text(i, 1),
                                          from_micros(blocks->int64(i, 2)), blocks->text(i, 3),
                                          false});
    fn(s);
    for (const auto& x : s.slots) {
      Result<pg::Rows> r = pg::Rows(nullptr);
      if (x.added) {
        std::optional<int64_t> done;
        if (x.done) done = to_micros(*x.done);
        r = step(
            "INSERT INTO quota_slots(id, provider, account, endpoint, weight, sent_at, done_at, "
            "stale_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            {x.id, provider, x.account, x.endpoint, x.weight, to_micros(x.sent), done,
             to_micros(x.stale_after)});
      } else if (x.dirty && x.done) {
        r = step("UPDATE quota_slots SET done_at = $2 WHERE id = $1", {x.id, to_micros(*x.done)});
      } else {
        continue;
      }
      if (!r) return fail(r.error());
    }
    for (const auto& c : s.counters) {
      if (!c.dirty) continue;
      auto r = step(
          "INSERT INTO quota_counters(provider, window_name, period_start, used) VALUES ($1, $2, "
          "$3, $4) ON CONFLICT (provider, window_name) DO UPDATE SET period_start = "
          "excluded.period_start, used = excluded.used",
          {provider, c.window, to_micros(c.period_start), c.used});
      if (!r) return fail(r.error());
    }
    for (const auto& b : s.blocks) {
      if (!b.dirty) continue;
      auto r = step(
          "INSERT INTO quota_blocks(provider, account, endpoint, until_at, reason) VALUES ($1, "
          "$2, $3, $4, $5) ON CONFLICT (provider, account, endpoint) DO UPDATE SET until_at = "
          "excluded.until_at, reason = excluded.reason",
          {provider, b.account, b.endpoint, to_micros(b.until), b.reason});
      if (!r) return fail(r.error());
    }
    return tx->commit();
  }

 private:
  std::mutex mu_;
  Conn conn_;
};

}  // namespace

std::unique_ptr<ratelimit::LedgerStore> make_pg_ledger(Conn conn) {
  return std::make_unique<PgLedger>(std::move(conn));
}

}  // namespace finsync::state
