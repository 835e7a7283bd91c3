#include "engine/backfill.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "config/yaml_reader.hpp"
#include "core/dates.hpp"
#include "core/digest.hpp"
#include "core/failpoint.hpp"
#include "engine/blocking.hpp"
#include "engine/incremental.hpp"
#include "engine/metadata.hpp"
#include "engine/planning.hpp"
#include "plan/cut_rules.hpp"
#include "plan/planner.hpp"

namespace finsync::engine {

namespace asio = boost::asio;
using state::Task;
using state::TaskState;

namespace {

// The fingerprint is stored with the plan: a password written inline in a DSN (URI
// `user:password@`, keyword `password=...`) stays out of it. By shape, so it does not depend on
// which secrets a command has registered.
std::string dsn_without_password(std::string dsn) {
  const size_t scheme = dsn.find("://");
  const size_t at = dsn.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    const size_t colon = dsn.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) dsn.erase(colon, at - colon);
  }
  for (size_t k = dsn.find("password="); k != std::string::npos; k = dsn.find("password=")) {
    const size_t end = dsn.find_first_of(" &", k);
    dsn.erase(k, end == std::string::npos ? std::string::npos : end - k + 1);
  }
  return dsn;
}

}  // namespace

std::string plan_fingerprint(const config::PlanDef& p) {
  std::string f =
      fmt::format("provider={};endpoint={};sink={};path={};table={};mode={}", p.provider,
                  p.endpoint, p.sink.kind, p.sink.path.text, p.sink.table, p.sink.mode);
  // A database sink's DSN (as written) says where the rows land, like a file sink's path. Only
  // appended when set, so landing keys of plans without one stay what they were.
  if (!p.sink.dsn.text.empty()) f += ";dsn=" + dsn_without_password(p.sink.dsn.text);
  return f;
}

// A page's landed marker: the task and the cursor the page was fetched at (a digest: cursors
// are URLs of any length), the same whenever that page is fetched again.
std::string page_marker(const std::string& task_id, const std::string& cursor) {
  return fmt::format("{}#page@{:016x}", task_id, fnv1a(cursor));
}

std::map<std::string, int64_t> page_markers(const std::map<std::string, int64_t>& landed) {
  std::map<std::string, int64_t> out;
  for (const auto& [id, rows] : landed)
    if (id.find("#page@") != std::string::npos) out.emplace(id, rows);
  return out;
}

std::string landing_key(const config::PlanDef& p) {
  const uint64_t h = fnv1a(plan_fingerprint(p));
  return fmt::format("{}#{:08x}", p.name, uint32_t(h ^ (h >> 32)));
}

namespace {

// Different symbols refused before a plan that never succeeded counts as refused as a whole.
constexpr size_t kRefusedSymbolsToStop = 3;

Outcome outcome_of(const Error& e) {
  switch (e.kind) {
    case ErrorKind::auth:
      return Outcome::auth;
    case ErrorKind::unreachable:
      return Outcome::unreachable;
    case ErrorKind::quota_exhausted:
      return Outcome::parked;
    case ErrorKind::cancelled:
      return Outcome::interrupted;
    case ErrorKind::invalid_input:
      return Outcome::invalid;
    default:
      return Outcome::internal;
  }
}

std::string run_id_for(const std::string& plan, TimePoint t) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return fmt::format("{}@{}", plan, us);
}

struct Landing;

// Shared state of one run; lives in run_backfill's frame while its workers run.
struct RunState {
  BackfillDeps& deps;
  const BackfillOptions& options;
  plan::TradingCalendar calendar;
  std::deque<Task> queue;
  state::RunRecord run;
  Progress progress;
  Outcome outcome = Outcome::done;
  std::string message;
  int active_workers = 0;
  std::vector<Landing*> landing_queue;
  bool landing_busy = false;
  int64_t landing_commits = 0;
  std::optional<TimePoint> resume_at;  // earliest quota reset of a parked task
  int64_t parked = 0;
  // `finsync pause`: workers take no new task while set; requests in flight land.
  bool paused = false;
  bool watching = false;  // the control watcher runs
  bool stop_watching = false;
  // While no task of the plan has ever succeeded, permanent answers for this many different
  // symbols mean the provider refuses the plan itself (a bad parameter, an endpoint or a history
  // the account does not include): the run stops instead of spending a request on every
  // symbol. 0 once a task succeeded: a refusal is then the symbol's own.
  size_t refusals_to_stop = 0;
  std::vector<std::string> refused_symbols{};
  plan::CutRules rules{};  // re-splits, widening, rows of answers by date
  // Tasks another process held when this one came to them: the report then counts what the
  // store holds at the end, not what this run saw at its start.
  int64_t elsewhere = 0;
  // Append mode: the sink's markers of pages landed before (id -> rows), as read when the run
  // prepared or took over tasks: a page landed whose checkpoint was lost is not landed again.
  std::map<std::string, int64_t> landed_pages{};

  // The first fatal condition wins; every worker stops taking tasks.
  void stop_with(Outcome o, std::string why) {
    if (outcome == Outcome::done || outcome == Outcome::failed_tasks) {
      outcome = o;
      message = std::move(why);
    }
    deps.stopping = true;
  }
};

asio::awaitable<Result<void>> save_task(RunState& rs, const Task& task) {
  auto job = [&rs, &task]() { return rs.deps.store.update_task(task); };
  Result<void> r = co_await run_blocking(rs.deps.store_thread, job);
  co_return r;
}

// One task waiting to land.
struct Landing {
  const RecordBatch* batch;
  Task* task;
  asio::steady_timer* wake;
  // A page of a task that goes on: its marker is the page's own (`marker`), so that it never
  // vouches for the whole task on recovery.
  int page = 0;
  std::string marker;
  Result<void> result = {};
  bool done = false;
};

// The rows a task owns (replace: partition): the column filled from the symbol parameter, and
// the time column over the task's window.
sink::Scope task_scope(const config::EndpointDef& ep, const Task& task) {
  sink::Scope scope;
  if (!ep.symbol_param.empty()) {
    for (const auto& c : ep.columns)
      if (c.name == ep.symbol_param || c.from_param == ep.symbol_param) {
        scope.equals.emplace_back(c.name, plan::task_symbol(task));
        break;
      }
  }
  if (!ep.time_column.empty()) {
    scope.time_column = ep.time_column;
    scope.first_day = task.start_day;
    scope.last_day = task.end_day;
  }
  return scope;
}

// Lands a group of tasks in one job on the store thread: write every batch, then one sink
// commit for all of them (group commit); the sink's commit calls each checkpoint's persist, the
// only path by which a task's checkpoint reaches the state store.
Result<void> land_group(BackfillDeps& d, const std::vector<Landing*>& group) {
  std::vector<sink::Checkpoint> cps;
  // The sink calls each persist after its commit; the group's checkpoints are then saved in one
  // state transaction instead of one each.
  std::vector<Task> checkpoints;
  for (Landing* l : group) {
    if (l->batch->num_rows() > 0) {
      if (auto w = d.sink.write(*l->batch); !w) {
        (void)d.sink.rollback();
        return w;
      }
    }
    sink::Checkpoint cp;
    cp.task_id = l->page > 0 ? l->marker : l->task->id;
    cp.page = l->page;
    cp.window = fmt::format("{}-{}", dates::format(l->task->start_day, "%Y%m%d"),
                            dates::format(l->task->end_day, "%Y%m%d"));
    // The task's marker counts every row it landed, earlier pages included: recovery restores it.
    cp.rows = l->page > 0 ? int64_t(l->batch->num_rows()) : l->task->rows;
    cp.bytes = l->task->bytes;
    cp.scope = task_scope(d.endpoint, *l->task);
    cp.task = l->task;
    cp.persist = [&checkpoints, task = l->task]() -> Result<void> {
      checkpoints.push_back(*task);
      return {};
    };
    cps.push_back(std::move(cp));
  }
  if (auto c = d.sink.commit(std::span<const sink::Checkpoint>(cps)); !c) return c;
  if (auto u = d.store.update_tasks(checkpoints); !u) {
    Error e = u.error();
    e.message = fmt::format(
        "{} landed tasks (first {}) are in the sink but saving their "
        "checkpoints failed: {}",
        checkpoints.size(), checkpoints.front().id, e.message);
    return fail(std::move(e));
  }
  return {};
}

// The first worker to arrive while no landing is under way lands everything queued, again and
// again until the queue is empty; the others wait for their own landing to be done. While one
// group commits, the next one gathers.
asio::awaitable<Result<void>> land(RunState& rs, const RecordBatch& batch, Task& done, int page = 0,
                                   std::string marker = {}) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer wake(ex, asio::steady_timer::time_point::max());
  Landing mine{&batch, &done, &wake, page, std::move(marker)};
  rs.landing_queue.push_back(&mine);
  if (!rs.landing_busy) {
    rs.landing_busy = true;
    while (!rs.landing_queue.empty()) {
      std::vector<Landing*> group;
      group.swap(rs.landing_queue);
      BackfillDeps& d = rs.deps;
      auto job = [&d, &group]() { return land_group(d, group); };
      Result<void> r = co_await run_blocking(rs.deps.store_thread, job);
      ++rs.landing_commits;
      for (Landing* l : group) {
        l->result = r;
        l->done = true;
        if (l != &mine) l->wake->cancel();
      }
    }
    rs.landing_busy = false;
  }
  while (!mine.done) {
    boost::system::error_code ec;
    co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return mine.result;
}

// An API without window parameters answers with the whole history: keep the task's window.
RecordBatch rows_in_window(const config::EndpointDef& ep, const RecordBatch& batch,
                           const Task& task) {
  const int tc = batch.schema().index_of(ep.time_column);
  if (tc < 0) return batch;
  const Column& col = batch.column(size_t(tc));
  constexpr int64_t us_per_day = 86'400'000'000;
  RecordBatch out(batch.schema());
  for (size_t i = 0; i < batch.num_rows(); ++i) {
    if (!col.valid(i)) continue;
    const int64_t v = col.int_at(i);
    const int64_t day = col.type() == DataType::timestamp
                            ? (v >= 0 ? v / us_per_day : (v - us_per_day + 1) / us_per_day)
                            : v;
    if (day >= task.start_day && day <= task.end_day) out.append_rows(batch, i, i + 1);
  }
  return out;
}

// A task died of a permanent answer: stop the run when the provider refuses the plan as a whole.
void refused(RunState& rs, const Task& task) {
  if (rs.refusals_to_stop == 0) return;
  const std::string symbol = plan::label(plan::param_set(task));
  auto& seen = rs.refused_symbols;
  if (std::find(seen.begin(), seen.end(), symbol) == seen.end()) seen.push_back(symbol);
  if (seen.size() < rs.refusals_to_stop) return;
  rs.stop_with(
      Outcome::invalid,
      fmt::format("plan {}: the provider refused the plan, not a symbol: the first {} {} ({}) "
                  "failed for good and no task of the plan has ever succeeded; last answer: {}. "
                  "Fix the plan's params or range, the provider definition or the account, then "
                  "`finsync retry {} --dead`",
                  rs.deps.plan.name, seen.size(), seen.size() == 1 ? "symbol" : "symbols",
                  fmt::join(seen, ", "), task.last_error, rs.deps.plan.name));
  rs.refusals_to_stop = 0;
}

void report_progress(RunState& rs) {
  rs.progress.requests = rs.deps.fetcher.counters().requests;
  if (rs.options.on_progress) rs.options.on_progress(rs.progress);
}

// Replaces the next pending windows of a parameter set with one wider window, in the state store
// first (atomically: resume sees the same tasks), then in the queue. The parts leave the queue
// before the store is asked, so that no worker takes one meanwhile.
asio::awaitable<void> widen(RunState& rs, const plan::Widening& w, int64_t rows) {
  auto is_part = [&w](const Task& t) {
    return std::any_of(w.parts.begin(), w.parts.end(), [&](const Task& p) { return p.id == t.id; });
  };
  std::erase_if(rs.queue, is_part);
  auto job = [&rs, &w]() { return rs.deps.store.merge_tasks(w.parts, w.merged); };
  Result<bool> merged = co_await run_blocking(rs.deps.store_thread, job);
  if (!merged || !*merged) {
    // Not merged (a part was taken by another process, or the store failed): as they were.
    for (auto it = w.parts.rbegin(); it != w.parts.rend(); ++it) rs.queue.push_front(*it);
    if (!merged) rs.stop_with(Outcome::internal, merged.error().message);
    co_return;
  }
  rs.queue.push_front(w.merged);
  const int64_t fewer = int64_t(w.parts.size()) - 1;
  rs.run.tasks_total -= fewer;
  rs.progress.tasks_total -= fewer;
  spdlog::info("{} rows, far under the cap: {} windows of {} widened into {}", rows, w.parts.size(),
               plan::label(plan::param_set(w.merged)), w.merged.id);
}

// The rows of an answer the task owns: a task over every symbol keeps the universe's, an API
// without window parameters the task's window.
RecordBatch kept_rows(RunState& rs, const Task& task, RecordBatch batch) {
  const config::EndpointDef& ep = rs.deps.endpoint;
  if (const plan::ParamSet ps = plan::param_set(task); ps.kind == plan::ParamSet::Kind::all) {
    const int col = batch.schema().index_of(ep.split.symbol_column);
    batch = rs.rules.keep_universe(batch, col, ps.gen);
  }
  if (ep.split_by == "symbol") batch = rows_in_window(ep, batch, task);
  return batch;
}

asio::awaitable<void> run_task(RunState& rs, Task task) {
  BackfillDeps& d = rs.deps;
  task.state = TaskState::running;
  task.attempts += 1;
  task.run_id = rs.run.id;
  if (auto s = co_await save_task(rs, task); !s) {
    rs.stop_with(Outcome::internal, s.error().message);
    co_return;
  }
  provider::Params params = request_params(d.endpoint, d.plan.params, task);
  // Page checkpoints: in upsert and append mode a paginated task lands each page with the
  // cursor of the next, and a task that has a cursor starts there. A page's marker names the
  // cursor it was fetched at, so a page whose landing committed but whose checkpoint was lost
  // (the process died in between) is known when it comes again. Replace mode lands a task
  // whole: each landing replaces the task's rows.
  const bool by_page =
      d.endpoint.pagination.kind != "none" && d.sink_spec.mode != sink::WriteMode::replace;
  if (!by_page) task.page_cursor.clear();
  if (task.page_cursor.empty()) task.rows = task.bytes = 0;
  int pages = 0;
  // Only an attempt that follows an interrupted one skips a page whose marker is there, and only
  // in append mode. A fresh pass (a new task, or one a refresh, retry or replan queued again
  // with no attempts) lands every page, as the user asked; in upsert mode a marker may be an
  // earlier pass's, and the page lands again as the same rows or the vendor's revision.
  const bool skip_landed = d.sink_spec.mode == sink::WriteMode::append && task.attempts > 1;
  PageHandler on_page = [&rs, &task, &pages, skip_landed](
                            FetchResult& page,
                            const std::string& next) -> asio::awaitable<Result<void>> {
    RecordBatch rows = kept_rows(rs, task, std::move(page.page.batch));
    std::string marker = page_marker(task.id, task.page_cursor);
    task.bytes += page.bytes;
    task.requests += page.requests;
    task.page_cursor = next;
    rs.run.bytes += page.bytes;
    ++pages;
    if (auto before = rs.landed_pages.find(marker);
        skip_landed && before != rs.landed_pages.end()) {
      spdlog::info(
          "task {}: this page was landed before the process that fetched it saved its "
          "checkpoint; not landing it again",
          task.id);
      task.rows += before->second;
      rs.landed_pages.erase(before);
      if (auto s = co_await save_task(rs, task); !s) co_return s;
      co_return FINSYNC_FAILPOINT("engine.between_pages");
    }
    task.rows += int64_t(rows.num_rows());
    Result<void> landed = co_await land(rs, rows, task, pages, std::move(marker));
    if (!landed) co_return landed;
    rs.run.rows += int64_t(rows.num_rows());
    rs.progress.rows += int64_t(rows.num_rows());
    co_return FINSYNC_FAILPOINT("engine.between_pages");
  };
  const PageHandler handler = by_page ? on_page : PageHandler();
  const auto t0 = std::chrono::steady_clock::now();
  Result<FetchResult> r =
      co_await d.fetcher.fetch(d.endpoint, std::move(params), task.page_cursor, handler);
  task.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!r) {
    const Error& e = r.error();
    task.last_error = e.message;
    switch (e.kind) {
      case ErrorKind::cancelled:
        // Not sent: it waits with the others for what stopped the run.
        if (rs.outcome == Outcome::parked) {
          task.state = TaskState::parked;
          task.resume_at = rs.resume_at;
          task.last_error = rs.message;
          ++rs.parked;
        } else {
          task.state = rs.outcome == Outcome::cancelled ? TaskState::cancelled : TaskState::pending;
        }
        task.attempts -= 1;
        break;
      case ErrorKind::auth:
        task.state = TaskState::failed;
        ++rs.run.tasks_failed;
        rs.stop_with(Outcome::auth, e.message);
        break;
      case ErrorKind::unreachable:
        task.state = TaskState::failed;
        ++rs.run.tasks_failed;
        rs.stop_with(Outcome::unreachable, e.message);
        break;
      case ErrorKind::quota_exhausted:
        // Nothing was spent on it: the attempt does not count.
        task.state = TaskState::parked;
        task.attempts -= 1;
        task.resume_at = e.retry_at;
        ++rs.parked;
        if (e.retry_at && (!rs.resume_at || *e.retry_at < *rs.resume_at)) rs.resume_at = e.retry_at;
        rs.stop_with(Outcome::parked, e.message);
        break;
      case ErrorKind::invalid_input:
        // The definition's (a request template naming an unknown field, a malformed URL), not
        // the task's: every task would fail alike, and the next run after the fix takes it.
        task.state = TaskState::failed;
        ++rs.run.tasks_failed;
        rs.stop_with(Outcome::invalid, e.message);
        break;
      default:
        task.state = TaskState::dead;
        ++rs.run.tasks_dead;
        ++rs.progress.tasks_done;
        spdlog::error("task {} failed: {}", task.id, e.message);
        if (rs.outcome == Outcome::done) rs.outcome = Outcome::failed_tasks;
        if (e.kind == ErrorKind::permanent || e.kind == ErrorKind::not_found) refused(rs, task);
        break;
    }
    if (auto s = co_await save_task(rs, task); !s)
      rs.stop_with(Outcome::internal, s.error().message);
    co_return;
  }
  task.requests += r->requests;
  // The cap applies to the answer as sent; rows outside the task are dropped after.
  const int64_t fetched = int64_t(r->page.batch.num_rows());
  r->page.batch = kept_rows(rs, task, std::move(r->page.batch));
  if (auto f = FINSYNC_FAILPOINT("engine.fetched_not_landed"); !f) {
    rs.stop_with(Outcome::internal, f.error().message);
    co_return;
  }
  const RecordBatch& batch = r->page.batch;
  const int64_t cap = d.endpoint.max_rows_per_request;
  // A paginated answer is complete when its last page is; only an unpaginated full page may
  // have been cut.
  if (cap > 0 && d.endpoint.pagination.kind == "none" && fetched >= cap) {
    // A full page means the provider may have cut the answer silently: never land it; fetch
    // the window again in smaller parts.
    auto halves = rs.rules.split_capped(task);
    if (!halves) {
      task.state = TaskState::dead;
      task.last_error = halves.error().message;
      ++rs.run.tasks_dead;
      ++rs.progress.tasks_done;
      if (rs.outcome == Outcome::done) rs.outcome = Outcome::failed_tasks;
      if (auto s = co_await save_task(rs, task); !s)
        rs.stop_with(Outcome::internal, s.error().message);
      co_return;
    }
    task.state = TaskState::split;
    spdlog::info("task {}: {} rows hit the cap of {}; splitting into {}{}", task.id, fetched, cap,
                 (*halves)[0].id,
                 halves->size() == 2 ? fmt::format(" and {}", (*halves)[1].id)
                                     : fmt::format(" and {} more", halves->size() - 1));
    std::vector<Task> children = *halves;
    auto job = [&d, &task, &children]() { return d.store.split_task(task, children); };
    Result<void> s = co_await run_blocking(d.store_thread, job);
    if (!s) {
      rs.stop_with(Outcome::internal, s.error().message);
      co_return;
    }
    ++rs.run.tasks_split;
    rs.run.tasks_total += int64_t(halves->size()) - 1;  // the parent gives way to its children
    rs.progress.tasks_total += int64_t(halves->size()) - 1;
    for (auto it = children.rbegin(); it != children.rend(); ++it) rs.queue.push_front(*it);
    co_return;
  }
  task.state = TaskState::succeeded;
  task.rows += int64_t(batch.num_rows());
  task.bytes += r->bytes;
  task.page_cursor.clear();
  task.last_error.clear();
  Result<void> landed = co_await land(rs, batch, task);
  if (!landed) {
    rs.stop_with(Outcome::internal,
                 fmt::format("landing task {} failed: {}", task.id, landed.error().message));
    co_return;
  }
  rs.refusals_to_stop = 0;
  ++rs.run.tasks_succeeded;
  rs.run.rows += int64_t(batch.num_rows());  // earlier pages counted as they landed
  rs.run.bytes += r->bytes;
  rs.progress.rows += int64_t(batch.num_rows());
  ++rs.progress.tasks_done;
  if (std::optional<plan::Widening> w = rs.rules.widen_after(task, fetched, rs.queue))
    co_await widen(rs, *w, fetched);
}

// The task's lease, and the task as the store holds it; nullopt when another process holds it or
// has finished it.
asio::awaitable<std::optional<Task>> claim(RunState& rs, const Task& task) {
  auto job = [&rs, &task]() {
    const TimePoint now = rs.deps.clock.now();
    return rs.deps.store.claim_tasks({task.id}, rs.options.lease.holder, now,
                                     now + rs.options.lease.duration);
  };
  Result<std::vector<Task>> r = co_await run_blocking(rs.deps.store_thread, job);
  if (!r) {
    rs.stop_with(Outcome::internal, r.error().message);
    co_return std::nullopt;
  }
  if (r->empty()) co_return std::nullopt;
  co_return std::move(r->front());
}

asio::awaitable<void> nap(std::chrono::milliseconds d) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Polls the plan's control (set by `finsync pause|resume|cancel` from any process) while the
// workers run.
asio::awaitable<void> watch_control(RunState& rs) {
  const std::string name = rs.deps.plan.name;
  while (!rs.stop_watching) {
    auto job = [&rs, &name]() { return rs.deps.store.get_plan(name); };
    Result<std::optional<state::PlanRecord>> rec = co_await run_blocking(rs.deps.store_thread, job);
    const std::string control = rec && *rec ? (*rec)->control : std::string();
    if (control == "paused" && !rs.paused) {
      rs.paused = true;
      // Requests waiting in the limiter stay there; one whose permit is being granted right now
      // is sent, and counts as in flight.
      rs.deps.fetcher.set_held(true);
      while (rs.deps.fetcher.admitting()) co_await nap(std::chrono::milliseconds(5));
      spdlog::warn(
          "plan {}: pause acknowledged; {} requests in flight land, no new request is sent "
          "until `finsync resume {}`",
          name, rs.deps.fetcher.in_flight(), name);
    } else if (control.empty() && rs.paused) {
      rs.paused = false;
      rs.deps.fetcher.set_held(false);
      spdlog::info("plan {}: resumed", name);
    } else if (control == "cancelled") {
      rs.stop_with(Outcome::cancelled, fmt::format("plan {} was cancelled", name));
      break;
    }
    co_await nap(std::chrono::milliseconds(250));
  }
  rs.watching = false;
}

asio::awaitable<void> worker(RunState& rs, asio::steady_timer& all_done) {
  while (!rs.deps.stopping && !rs.queue.empty()) {
    if (rs.paused) {
      co_await nap(std::chrono::milliseconds(100));
      continue;
    }
    Task task = std::move(rs.queue.front());
    rs.queue.pop_front();
    std::optional<Task> mine = co_await claim(rs, task);
    if (!mine) {
      // Another process holds it or has finished it: it is not this one's to fetch.
      if (!rs.deps.stopping) ++rs.elsewhere;
      continue;
    }
    co_await run_task(rs, std::move(*mine));
    report_progress(rs);
  }
  if (--rs.active_workers == 0) all_done.cancel();
}

std::string publication_text(const config::EndpointDef& ep) {
  if (!ep.available_after) return fmt::format("today in {}", ep.zone);
  return fmt::format("available_after {:02}:{:02} {}", ep.available_after->count() / 60,
                     ep.available_after->count() % 60, ep.zone);
}

// Queues the refresh of every parameter set with a high-water mark: new tasks are added to the
// store and to `tasks`; one already there (a second run on the same day) goes back to pending.
Result<void> refresh(state::StateStore& store, const config::PlanDef& plan,
                     const config::EndpointDef& ep, const std::vector<plan::Symbol>& symbols,
                     const plan::TradingCalendar& calendar, std::vector<Task>& tasks) {
  auto marks = store.list_marks(plan.name);
  if (!marks) return fail(marks.error());
  std::vector<Task> fresh = refresh_tasks(plan, ep, *marks, symbols, calendar, plan.end_day);
  if (fresh.empty()) return {};
  const size_t queued = fresh.size();
  RefreshQueue q = queue_refresh(std::move(fresh), tasks);
  std::vector<Task> again;
  for (const Task* t : q.again) again.push_back(*t);
  if (!again.empty())
    if (auto u = store.update_tasks(again); !u) return u;
  if (auto n = store.add_tasks(q.added); !n) return fail(n.error());
  tasks.insert(tasks.end(), q.added.begin(), q.added.end());
  spdlog::info(
      "plan {}: fetching again {} parameter sets over their last {} trading days and every day "
      "after, through {} ({} tasks)",
      plan.name, marks->size(), plan.lookback, dates::iso(plan.end_day), queued);
  return {};
}

// Runs `n` workers over the queue until it is empty or the run stops.
asio::awaitable<void> run_workers(RunState& rs, int n) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, asio::steady_timer::time_point::max());
  rs.active_workers = n;
  for (int i = 0; i < n; ++i)
    asio::co_spawn(ex, worker(rs, all_done), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  // co_spawn may run a worker inline, so all of them can be done before the first wait.
  while (rs.active_workers > 0) {
    boost::system::error_code ec;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

bool held_by_other(const Task& t, const std::string& holder, TimePoint now) {
  return t.state == TaskState::running && !t.lease_holder.empty() && t.lease_holder != holder &&
         t.lease_until && *t.lease_until > now;
}

// What the store holds once this process's queue ran dry.
struct Leftover {
  int64_t held = 0;  // running under another live holder's lease
  std::string holder;
  TimePoint until{};
  int64_t parked = 0;  // waiting for a quota reset
  std::optional<TimePoint> resume_at;
  std::string parked_reason;
  int64_t total = 0;           // tasks not split
  int64_t done_elsewhere = 0;  // finished, by an earlier run or another process
};

// Tasks others held may have come free (their holder died and the leases expired) and new ones
// may have appeared (their splits): queues what this process may take now.
asio::awaitable<Result<Leftover>> refill(RunState& rs) {
  const std::string& holder = rs.options.lease.holder;
  auto job = [&rs]() -> Result<std::vector<Task>> {
    auto listed = rs.deps.store.list_tasks(rs.deps.plan.name);
    if (!listed) return listed;
    auto freed = release_gone_holders(rs.deps.store, *listed, rs.options.lease.holder);
    if (!freed) return tl::unexpected(freed.error());
    auto expired = rs.deps.store.expire_leases(rs.deps.plan.name, rs.deps.clock.now());
    if (!expired) return tl::unexpected(expired.error());
    if (*freed == 0 && *expired == 0) return listed;
    // Their holders may have landed pages they did not checkpoint.
    if (rs.deps.sink_spec.mode == sink::WriteMode::append) {
      auto landed = rs.deps.sink.landed_tasks(landing_key(rs.deps.plan));
      if (!landed) return tl::unexpected(landed.error());
      rs.landed_pages = page_markers(*landed);
    }
    return rs.deps.store.list_tasks(rs.deps.plan.name);
  };
  Result<std::vector<Task>> tasks = co_await run_blocking(rs.deps.store_thread, job);
  if (!tasks) co_return tl::unexpected(tasks.error());
  const TimePoint now = rs.deps.clock.now();
  Leftover left;
  for (auto& t : *tasks) {
    if (t.state == TaskState::split) continue;
    ++left.total;
    if (is_terminal(t.state)) {
      if (t.run_id != rs.run.id) ++left.done_elsewhere;
      continue;
    }
    if (held_by_other(t, holder, now)) {
      if (left.held == 0 || *t.lease_until < left.until) {
        left.holder = t.lease_holder;
        left.until = *t.lease_until;
      }
      ++left.held;
    } else if (t.state == TaskState::parked && t.resume_at && *t.resume_at > now) {
      ++left.parked;
      if (!left.resume_at || *t.resume_at < *left.resume_at) {
        left.resume_at = t.resume_at;
        left.parked_reason = t.last_error;
      }
    } else if (t.state == TaskState::pending || t.state == TaskState::parked) {
      rs.queue.push_back(std::move(t));
    }
  }
  co_return left;
}

// Until the plan is done everywhere: whatever other processes leave behind (tasks of a holder
// that died, their splits) is taken here; while they still hold tasks, this one waits for them.
asio::awaitable<void> finish_leftovers(RunState& rs, int workers) {
  std::string waited_for;
  while (!rs.deps.stopping &&
         (rs.outcome == Outcome::done || rs.outcome == Outcome::failed_tasks)) {
    Result<Leftover> left = co_await refill(rs);
    if (!left) {
      rs.stop_with(Outcome::internal, left.error().message);
      co_return;
    }
    if (!rs.queue.empty()) {
      const auto queued = int64_t(rs.queue.size());
      const int64_t refused_before = rs.elsewhere;
      spdlog::info("plan {}: {} tasks came free; taking them", rs.deps.plan.name, queued);
      co_await run_workers(rs, workers);
      // Every one went to another process first (a row it was writing): look again later, not
      // at once.
      if (rs.elsewhere - refused_before >= queued)
        co_await nap(std::min(std::chrono::milliseconds(1000), renew_interval(rs.options.lease)));
      continue;
    }
    if (left->held == 0) {
      if (rs.elsewhere > 0) {
        // Done between this process and others: the report counts the store's view.
        rs.run.tasks_total = left->total;
        rs.run.tasks_skipped = left->done_elsewhere;
      }
      if (left->parked > 0) {
        rs.parked = left->parked;
        rs.resume_at = left->resume_at;
        rs.outcome = Outcome::parked;
        rs.message = left->parked_reason.empty() ? "a quota is spent" : left->parked_reason;
      }
      co_return;
    }
    rs.elsewhere = std::max<int64_t>(rs.elsewhere, 1);
    if (waited_for != left->holder) {
      spdlog::info(
          "plan {}: waiting for {} tasks leased by another finsync process ({}): it lands them, "
          "or this one takes them when its lease expires",
          rs.deps.plan.name, left->held, left->holder);
      waited_for = left->holder;
    }
    co_await nap(std::min(std::chrono::milliseconds(1000), renew_interval(rs.options.lease)));
  }
}

}  // namespace

asio::awaitable<BackfillResult> run_backfill(BackfillDeps deps, BackfillOptions options) {
  RunState rs{deps, options, {}, {}, {}, {}, Outcome::done, "", 0, {}, false, 0, {}, 0};
  BackfillResult result;
  const config::PlanDef& plan = deps.plan;
  rs.run.id = run_id_for(plan.name, deps.clock.now());
  rs.run.plan = plan.name;
  rs.run.started_at = deps.clock.now();
  auto finish = [&](Outcome o, std::string msg) {
    result.outcome = o;
    result.message = std::move(msg);
  };

  // 1. The plan record: identity, fingerprint check, stored universe.
  auto existing_job = [&deps, &plan]() { return deps.store.get_plan(plan.name); };
  Result<std::optional<state::PlanRecord>> existing =
      co_await run_blocking(deps.store_thread, existing_job);
  if (!existing) {
    finish(Outcome::internal, existing.error().message);
    co_return result;
  }
  state::PlanRecord record;
  const std::string fingerprint = plan_fingerprint(plan);
  if (*existing && !(*existing)->control.empty()) {
    const bool cancelled = (*existing)->control == "cancelled";
    finish(cancelled ? Outcome::cancelled : Outcome::paused,
           fmt::format("plan {} is {}: nothing runs until `finsync resume {}`", plan.name,
                       (*existing)->control, plan.name));
    co_return result;
  }
  if (*existing) {
    record = **existing;
    if (record.fingerprint != fingerprint && !options.replan) {
      finish(Outcome::invalid,
             fmt::format("plan '{}' changed what it lands ({} -> {}); this would mix data of two "
                         "definitions. Run again with --replan to re-plan it from scratch",
                         plan.name, record.fingerprint, fingerprint));
      co_return result;
    }
  } else {
    record.name = plan.name;
    record.created_at = deps.clock.now();
  }
  const bool replanning = *existing && record.fingerprint != fingerprint;
  bool replan_now = replanning;  // only the first preparation resets the tasks
  record.spec_yaml = plan.text;
  record.fingerprint = fingerprint;
  record.updated_at = deps.clock.now();
  if (replanning) record.universe_json.clear();

  rs.run.status = "running";
  auto put_run_job = [&deps, &rs]() { return deps.store.put_run(rs.run); };

  // 2. Metadata: universe (once per plan, stored) and the trading calendar.
  std::vector<plan::Symbol> symbols;
  // A plan that ends today reads its universe again on every run: new listings get their own
  // backfill from the plan's start.
  const bool universe_changed = record.universe_json.empty() || plan.end_today ||
                                (*existing && (*existing)->spec_yaml != plan.text);
  if (!universe_changed) {
    auto u = universe_from_json(record.universe_json);
    if (!u) {
      finish(Outcome::internal, u.error().message);
      co_return result;
    }
    symbols = std::move(*u);
  } else {
    Result<std::vector<plan::Symbol>> u = co_await resolve_universe(deps.fetcher, plan.universe);
    if (!u) {
      finish(outcome_of(u.error()), u.error().message);
      co_return result;
    }
    // A resolved universe from an endpoint only grows: names already planned keep their tasks.
    // Each name keeps its generation; new ones take the next.
    std::vector<plan::Symbol> old;
    if (!record.universe_json.empty())
      if (auto o = universe_from_json(record.universe_json)) old = std::move(*o);
    symbols = plan::merge_universe(old, std::move(*u), !plan.universe.from_endpoint.empty());
    record.universe_json = universe_to_json(symbols);
  }
  // Every symbol an answer by date holds, when the plan's universe is not all of them: fetched
  // only when the universe is resolved (otherwise nothing new is planned by date).
  Result<std::optional<std::vector<plan::Symbol>>> market =
      co_await market_symbols(deps.fetcher, plan, deps.endpoint, symbols, universe_changed);
  if (!market) {
    finish(outcome_of(market.error()), market.error().message);
    co_return result;
  }
  Result<plan::TradingCalendar> cal =
      co_await fetch_calendar(deps.fetcher, plan.start_day, plan.end_day);
  if (!cal) {
    finish(outcome_of(cal.error()), cal.error().message);
    co_return result;
  }
  rs.calendar = std::move(*cal);
  rs.rules = cut_rules(plan, deps.endpoint, symbols, &rs.calendar);
  const DayClock days = day_clock(deps.endpoint, deps.clock.now());

  // 3. Plan what is not covered yet, recover tasks landed but not checkpointed, and queue.
  auto prepare = [&]() -> Result<std::vector<Task>> {
    if (auto p = deps.store.put_plan(record); !p) return fail(p.error());
    if (auto r = deps.store.put_run(rs.run); !r) return fail(r.error());
    auto tasks = deps.store.list_tasks(plan.name);
    if (!tasks) return tasks;
    if (auto g = release_gone_holders(deps.store, *tasks, options.lease.holder); !g)
      return fail(g.error());
    if (replan_now)
      if (auto c = deps.store.clear_marks(plan.name); !c) return fail(c.error());
    if (plan.end_today && !replan_now) {
      auto queued = refresh(deps.store, plan, deps.endpoint, symbols, rs.calendar, *tasks);
      if (!queued) return fail(queued.error());
    }
    if (replan_now) {
      // What the plan lands changed: every task is done again, into the new definition.
      std::vector<Task> again;
      for (const auto& t : *tasks) {
        if (t.state == TaskState::split) continue;
        Task& a = again.emplace_back(t);
        a.state = TaskState::pending;
        a.attempts = 0;
        a.rows = a.bytes = a.duration_ms = a.requests = 0;
        a.last_error.clear();
        a.resume_at.reset();
        a.page_cursor.clear();
      }
      if (auto u = deps.store.update_tasks(again); !u) return fail(u.error());
    }
    const plan::PlanInput in =
        plan_input(plan, deps.endpoint, symbols, *market ? &**market : nullptr, rs.calendar);
    plan::PlanChoice choice;
    auto planned = plan_and_persist(deps.store, in, *tasks, choice);
    if (!planned) return fail(planned.error());
    if (*planned > 0)
      spdlog::info("planned {} new tasks: {}{}", *planned, describe_choice(choice),
                   choice.note.empty() ? "" : "; " + choice.note);
    // What was planned before is in the store; the run lists it afresh below.
    *tasks = std::vector<Task>();
    // Tasks left running by a process that died (its leases expired) are pending again; those
    // of a live process stay its own.
    if (auto n = deps.store.expire_leases(plan.name, deps.clock.now()); !n) return fail(n.error());
    auto landed = deps.sink.landed_tasks(landing_key(plan));
    if (!landed) return fail(landed.error());
    if (deps.sink_spec.mode == sink::WriteMode::append) rs.landed_pages = page_markers(*landed);
    auto all = deps.store.list_tasks(plan.name);
    if (!all) return all;
    std::vector<Task> recovered;
    for (auto& t : *all) {
      // A task queued again by `finsync retry` has no attempts yet: fetch it again whatever the
      // sink holds.
      if (t.state != TaskState::succeeded && t.state != TaskState::split && t.attempts > 0 &&
          landed->count(t.id)) {
        // The sink committed this task but the process died before its checkpoint.
        t.state = TaskState::succeeded;
        t.rows = landed->at(t.id);
        t.last_error = "recovered from the sink's landed marker";
        recovered.push_back(t);
      }
    }
    if (auto u = deps.store.update_tasks(recovered); !u) return fail(u.error());
    return all;
  };
  Result<std::vector<Task>> all = co_await run_blocking(deps.store_thread, prepare);
  if (!all) {
    finish(Outcome::internal, all.error().message);
    co_return result;
  }
  replan_now = false;

  // Leases live while this run does; a sink with one writer waits for the plan's writer lease.
  asio::thread_pool lease_pool(1);
  bool stop_keeping = false;
  bool keeping = true;
  auto lease_ex = co_await asio::this_coro::executor;
  asio::co_spawn(
      lease_ex,
      keep_leases(deps.store, lease_pool, deps.clock, options.lease, stop_keeping, keeping),
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  auto release = [&]() -> asio::awaitable<void> {
    stop_keeping = true;
    while (keeping) co_await nap(std::chrono::milliseconds(20));
    auto job = [&deps, &options]() { return deps.store.release_leases(options.lease.holder); };
    if (auto r = co_await run_blocking(deps.store_thread, job); !r)
      spdlog::warn("releasing the task leases failed (they expire by themselves): {}",
                   r.error().message);
  };
  if (!deps.sink.multi_writer()) {
    Result<bool> writer =
        co_await take_writer_lease(deps.store, lease_pool, deps.clock, options.lease, plan.name,
                                   deps.sink_spec.kind, deps.stopping);
    if (!writer || !*writer) {
      co_await release();
      if (!writer)
        finish(Outcome::internal, writer.error().message);
      else
        finish(Outcome::interrupted, "interrupted while waiting for the other process");
      co_return result;
    }
    // The other process may have landed everything meanwhile.
    all = co_await run_blocking(deps.store_thread, prepare);
    if (!all) {
      co_await release();
      finish(Outcome::internal, all.error().message);
      co_return result;
    }
  }
  const TimePoint now = deps.clock.now();
  int64_t still_parked = 0;
  std::string parked_reason;
  bool ever_succeeded = false;
  for (auto& t : *all) {
    if (t.state == TaskState::split) continue;
    ever_succeeded = ever_succeeded || t.state == TaskState::succeeded;
    ++rs.run.tasks_total;
    const bool waiting = t.state == TaskState::parked && t.resume_at && *t.resume_at > now;
    const bool runnable = t.state == TaskState::pending || t.state == TaskState::failed ||
                          t.state == TaskState::running ||
                          (t.state == TaskState::parked && !waiting);
    if (waiting) {
      // The quota that parked it has not reset: sending now would be refused.
      ++still_parked;
      if (!rs.resume_at || *t.resume_at < *rs.resume_at) {
        rs.resume_at = t.resume_at;
        parked_reason = t.last_error;
      }
    }
    if (held_by_other(t, options.lease.holder, now))
      ++rs.elsewhere;
    else if (runnable)
      rs.queue.push_back(std::move(t));
    else if (!waiting)
      ++rs.run.tasks_skipped;
  }
  rs.parked = still_parked;
  if (!ever_succeeded) {
    std::vector<std::string> queued;
    for (const auto& t : rs.queue) queued.push_back(plan::label(plan::param_set(t)));
    std::sort(queued.begin(), queued.end());
    const auto distinct = size_t(std::unique(queued.begin(), queued.end()) - queued.begin());
    rs.refusals_to_stop = std::min(kRefusedSymbolsToStop, distinct);
  }
  if (still_parked > 0) {
    // One account, one quota: the tasks not parked yet would meet the same refusal.
    rs.outcome = Outcome::parked;
    rs.message = parked_reason.empty() ? "a quota is spent" : parked_reason;
  }
  rs.progress.tasks_total = rs.run.tasks_total;
  rs.progress.tasks_done = rs.run.tasks_skipped;
  spdlog::info("plan {}: {} tasks, {} already done, {} to run", plan.name, rs.run.tasks_total,
               rs.run.tasks_skipped, rs.queue.size());
  if (rs.elsewhere > 0)
    spdlog::info(
        "plan {}: {} tasks are leased by another finsync process; this one takes the others "
        "(the {} sink takes several writers)",
        plan.name, rs.elsewhere, deps.sink_spec.kind);
  report_progress(rs);

  // 4. Workers.
  auto ex = co_await asio::this_coro::executor;
  const int n = rs.outcome == Outcome::parked ? 0 : std::max(1, options.concurrency);
  if (n > 0) {
    rs.watching = true;
    asio::co_spawn(ex, watch_control(rs), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    co_await run_workers(rs, n);
    co_await finish_leftovers(rs, n);
  }

  rs.stop_watching = true;
  while (rs.watching) co_await nap(std::chrono::milliseconds(20));

  // A cancelled plan's tasks that did not run are cancelled (`finsync resume` re-queues them).
  if (rs.outcome == Outcome::cancelled && !rs.queue.empty()) {
    for (auto& t : rs.queue) t.state = TaskState::cancelled;
    auto cancel_job = [&deps, &rs]() {
      return deps.store.update_tasks(std::vector<Task>(rs.queue.begin(), rs.queue.end()));
    };
    if (auto c = co_await run_blocking(deps.store_thread, cancel_job); !c)
      rs.stop_with(Outcome::internal, c.error().message);
  }

  // 5. A spent quota parks every task that did not run, so status shows what waits for it.
  if (rs.outcome == Outcome::parked && !rs.queue.empty()) {
    for (auto& t : rs.queue) {
      t.state = TaskState::parked;
      t.resume_at = rs.resume_at;
      t.last_error = rs.message;
    }
    rs.parked += int64_t(rs.queue.size());
    auto park_job = [&deps, &rs]() {
      return deps.store.update_tasks(std::vector<Task>(rs.queue.begin(), rs.queue.end()));
    };
    if (auto p = co_await run_blocking(deps.store_thread, park_job); !p)
      rs.stop_with(Outcome::internal, p.error().message);
  }

  // 6. A plan that ends today: move the high-water marks over what has landed, and say which
  // days were landed before their publication.
  if (plan.end_today) {
    auto marks_job = [&deps, &plan, &days]() -> Result<int64_t> {
      auto tasks = deps.store.list_tasks(plan.name);
      if (!tasks) return fail(tasks.error());
      if (auto a = deps.store.advance_marks(plan.name, marks_from(*tasks, days.published)); !a)
        return fail(a.error());
      return provisional_tasks(*tasks, days.published);
    };
    Result<int64_t> provisional = co_await run_blocking(deps.store_thread, marks_job);
    if (!provisional)
      rs.stop_with(Outcome::internal, provisional.error().message);
    else if (*provisional > 0)
      spdlog::info(
          "{} tasks landed days after {}, not published yet ({}): provisional, the next run "
          "fetches them again",
          *provisional, dates::iso(days.published), publication_text(deps.endpoint));
  }

  co_await release();

  // 7. Bring derived outputs up to date and close the run.
  auto close_job = [&deps]() { return deps.sink.close(); };
  Result<sink::SinkStats> closed = co_await run_blocking(deps.store_thread, close_job);
  if (!closed)
    rs.stop_with(Outcome::internal, closed.error().message);
  else
    result.sink_stats = *closed;

  const FetchCounters& c = deps.fetcher.counters();
  rs.run.requests = c.requests;
  rs.run.retries = c.retries;
  rs.run.rate_limited = c.rate_limited;
  rs.run.finished_at = deps.clock.now();
  if (rs.landing_commits > 0)
    spdlog::debug("landed {} tasks in {} sink commits", rs.run.tasks_succeeded, rs.landing_commits);
  if (rs.outcome == Outcome::done && deps.stopping) {
    rs.outcome = Outcome::interrupted;
    rs.message = "interrupted; progress is saved and the next run resumes";
  }
  switch (rs.outcome) {
    case Outcome::done:
      rs.run.status = "succeeded";
      break;
    case Outcome::failed_tasks:
      rs.run.status = "failed";
      break;
    case Outcome::parked:
      rs.run.status = "parked";
      break;
    case Outcome::interrupted:
      rs.run.status = "interrupted";
      break;
    case Outcome::cancelled:
      rs.run.status = "cancelled";
      break;
    default:
      rs.run.status = "failed";
      break;
  }
  rs.run.error = rs.message;
  Result<void> saved = co_await run_blocking(deps.store_thread, put_run_job);
  if (!saved && rs.outcome == Outcome::done) rs.stop_with(Outcome::internal, saved.error().message);
  result.outcome = rs.outcome;
  result.message = rs.message;
  result.run = rs.run;
  result.parked = rs.parked;
  result.resume_at = rs.resume_at;
  co_return result;
}

}  // namespace finsync::engine
