// Plan lifecycle from the CLI. Each command records the wish in the state store; a `finsync run`
// of the plan, in this process or another, polls it and obeys.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "config/yaml_reader.hpp"
#include "core/dates.hpp"
#include "core/secrets.hpp"

namespace finsync::app {
namespace fs = std::filesystem;

namespace {

// The store and the plan's record, or an exit code.
int open_plan(const GlobalOptions& g, const std::string& name, Context& ctx,
              std::unique_ptr<state::StateStore>& store) {
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto s = open_state_store(ctx, /*create=*/false);
  if (!s) {
    spdlog::error("{}", s.error().message);
    return s.error().kind == ErrorKind::not_found ? kConfig : exit_code_for(s.error());
  }
  store = std::move(*s);
  auto rec = store->get_plan(name);
  if (!rec) {
    spdlog::error("{}", rec.error().message);
    return exit_code_for(rec.error());
  }
  if (!*rec) {
    spdlog::error("plan '{}' has never run in this workspace (see finsync plan list)", name);
    return kConfig;
  }
  return kDone;
}

// Moves every task of `plan` in one of `from` (or the one task `only`) to pending.
Result<int64_t> requeue(state::StateStore& store, const std::string& plan,
                        const std::vector<state::TaskState>& from, const std::string& only) {
  auto tasks = store.list_tasks(plan);
  if (!tasks) return fail(tasks.error());
  std::vector<state::Task> named;
  for (auto& t : *tasks) {
    if (!only.empty() ? t.id != only : std::find(from.begin(), from.end(), t.state) == from.end())
      continue;
    t.state = state::TaskState::pending;
    t.attempts = 0;
    t.resume_at.reset();
    named.push_back(std::move(t));
  }
  if (auto u = store.update_tasks(named); !u) return fail(u.error());
  return int64_t(named.size());
}

int set_control(const GlobalOptions& g, const std::string& name, const std::string& control,
                const std::string& done) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, name, ctx, store); rc != kDone) return rc;
  if (auto r = store->set_plan_control(name, control); !r) {
    spdlog::error("{}", r.error().message);
    return exit_code_for(r.error());
  }
  std::printf("plan %s: %s\n", name.c_str(), done.c_str());
  return kDone;
}

}  // namespace

int cmd_pause(const GlobalOptions& g, const std::string& name) {
  return set_control(g, name, "paused",
                     "paused (a running process lets its requests in flight land and sends no "
                     "new one; `finsync resume` continues)");
}

int cmd_resume(const GlobalOptions& g, const std::string& name) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, name, ctx, store); rc != kDone) return rc;
  auto n = requeue(*store, name, {state::TaskState::cancelled}, "");
  if (!n) {
    spdlog::error("{}", n.error().message);
    return exit_code_for(n.error());
  }
  if (auto r = store->set_plan_control(name, ""); !r) {
    spdlog::error("{}", r.error().message);
    return exit_code_for(r.error());
  }
  std::printf("plan %s: resumed (%lld cancelled tasks queued again)\n", name.c_str(),
              (long long)*n);
  return kDone;
}

int cmd_cancel(const GlobalOptions& g, const std::string& name) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, name, ctx, store); rc != kDone) return rc;
  if (auto r = store->set_plan_control(name, "cancelled"); !r) {
    spdlog::error("{}", r.error().message);
    return exit_code_for(r.error());
  }
  // Tasks no process holds are cancelled here; a running process cancels its own queue.
  auto tasks = store->list_tasks(name);
  if (!tasks) {
    spdlog::error("{}", tasks.error().message);
    return exit_code_for(tasks.error());
  }
  std::vector<state::Task> cancelled;
  for (auto& t : *tasks) {
    if (t.state != state::TaskState::pending && t.state != state::TaskState::parked &&
        t.state != state::TaskState::failed)
      continue;
    t.state = state::TaskState::cancelled;
    cancelled.push_back(std::move(t));
  }
  if (auto u = store->update_tasks(cancelled); !u) {
    spdlog::error("{}", u.error().message);
    return exit_code_for(u.error());
  }
  std::printf("plan %s: cancelled (%lld tasks; landed data is kept; `finsync resume` re-queues)\n",
              name.c_str(), (long long)cancelled.size());
  return kDone;
}

int cmd_retry(const GlobalOptions& g, const RetryArgs& args) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, args.plan, ctx, store); rc != kDone) return rc;
  // Neither flag: both kinds.
  const bool both = !args.failed && !args.dead && args.task.empty();
  std::vector<state::TaskState> from;
  if (args.failed || both) from.push_back(state::TaskState::failed);
  if (args.dead || both) from.push_back(state::TaskState::dead);
  if (!args.task.empty()) {
    auto t = store->get_task(args.task);
    if (!t || !*t || (*t)->plan != args.plan) {
      spdlog::error("plan {} has no task '{}'", args.plan, args.task);
      return kConfig;
    }
  }
  auto n = requeue(*store, args.plan, from, args.task);
  if (!n) {
    spdlog::error("{}", n.error().message);
    return exit_code_for(n.error());
  }
  std::printf("plan %s: %lld tasks queued again; `finsync run %s` fetches them\n",
              args.plan.c_str(), (long long)*n, args.plan.c_str());
  return kDone;
}

int cmd_plan_list(const GlobalOptions& g) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto store = open_state_store(ctx, /*create=*/false);
  std::map<std::string, std::string> rows;  // name -> line
  if (store) {
    auto plans = (*store)->list_plans();
    if (!plans) {
      spdlog::error("{}", plans.error().message);
      return exit_code_for(plans.error());
    }
    for (const auto& p : *plans) {
      auto def = config::parse_plan(p.spec_yaml, p.name);
      auto tasks = (*store)->list_tasks(p.name);
      int64_t done = 0, total = 0;
      if (tasks)
        for (const auto& t : *tasks) {
          if (t.state == state::TaskState::split) continue;
          ++total;
          done += t.state == state::TaskState::succeeded;
        }
      rows[p.name] = fmt::format("{:<24} {:<24} {:<10} {}/{} tasks", p.name,
                                 def ? def->provider + "/" + def->endpoint : "?",
                                 p.control.empty() ? "active" : p.control, done, total);
    }
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ctx.workspace.plans_dir, ec)) {
    const auto ext = e.path().extension();
    if (ext != ".yaml" && ext != ".yml") continue;
    auto def = resolve_plan(ctx, e.path().string());
    if (!def || rows.count(def->name)) continue;
    rows[def->name] = fmt::format("{:<24} {:<24} {:<10} not run yet", def->name,
                                  def->provider + "/" + def->endpoint, "new");
  }
  std::printf("%-24s %-24s %-10s %s\n", "PLAN", "PROVIDER/ENDPOINT", "STATE", "PROGRESS");
  for (const auto& [_, line] : rows) std::printf("%s\n", line.c_str());
  return kDone;
}

int cmd_plan_show(const GlobalOptions& g, const std::string& name) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, name, ctx, store); rc != kDone) return rc;
  auto rec = store->get_plan(name);
  std::map<std::string, int64_t> by_state;
  std::vector<const state::Task*> given_up;  // failed and dead, with the error that ended them
  auto tasks = store->list_tasks(name);
  if (tasks)
    for (const auto& t : *tasks) {
      ++by_state[std::string(to_string(t.state))];
      if (t.state == state::TaskState::failed || t.state == state::TaskState::dead)
        given_up.push_back(&t);
    }
  std::string out = fmt::format("plan      {}\nstate     {}\n", name,
                                (*rec)->control.empty() ? "active" : (*rec)->control);
  for (const auto& [state, n] : by_state) out += fmt::format("tasks     {:<10} {}\n", state, n);
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < given_up.size() && i < kShown; ++i) {
    // One line a task: an error that quotes an HTML body has line breaks.
    std::string error;
    for (char c : given_up[i]->last_error) {
      const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
      if (!space)
        error += c;
      else if (!error.empty() && error.back() != ' ')
        error += ' ';
    }
    out += secrets::mask(fmt::format("task      {} {}: {}\n", given_up[i]->id,
                                     to_string(given_up[i]->state), error));
  }
  if (given_up.size() > kShown)
    out += fmt::format("task      ... and {} more failed or dead\n", given_up.size() - kShown);
  // High-water marks (plans that end today): how far the parameter sets are final.
  if (auto marks = store->list_marks(name); marks && !marks->empty()) {
    int32_t lo = marks->begin()->second, hi = lo;
    for (const auto& [set, day] : *marks) {
      lo = std::min(lo, day);
      hi = std::max(hi, day);
    }
    out += fmt::format("marks     {} parameter sets landed through {}{}\n", marks->size(),
                       dates::iso(lo),
                       lo == hi ? "" : fmt::format(" (some through {})", dates::iso(hi)));
  }
  out += "spec:\n" + (*rec)->spec_yaml;
  std::fputs(out.c_str(), stdout);
  return kDone;
}

int cmd_plan_rm(const GlobalOptions& g, const std::string& name) {
  Context ctx;
  std::unique_ptr<state::StateStore> store;
  if (int rc = open_plan(g, name, ctx, store); rc != kDone) return rc;
  auto r = store->remove_plan(name);
  if (!r) {
    spdlog::error("{}", r.error().message);
    return exit_code_for(r.error());
  }
  std::printf("plan %s removed from the state store (its tasks and runs); landed data is kept\n",
              name.c_str());
  return kDone;
}

}  // namespace finsync::app
