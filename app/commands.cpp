#include "app/commands.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "engine/eta.hpp"
#include "engine/leases.hpp"
#include "engine/limits.hpp"
#include "ratelimit/limiter.hpp"
#include "report/run_report.hpp"
#include "sink/query.hpp"

namespace finsync::app {
namespace fs = std::filesystem;

namespace {

const char* kWorkspaceTemplate = R"(# finsync workspace. Paths are relative to this file.
data_dir: data                 # landed data: the DuckDB store (finsync.duckdb) and files
state: { kind: sqlite, path: .finsync/state.db }
# shared by finsync processes on several machines (docs/state.md):
# state: { kind: postgres, dsn: "postgresql://finsync@db:5432/market",
#          password: "${PG_PASSWORD}", schema: finsync }
providers_dir: providers       # your provider files; one with a built-in's name overrides it
plans_dir: plans               # plans here can be run by name: finsync run tushare-daily
defaults:
  concurrency: 4               # requests in flight per run
  max_attempts: 5              # per task, for transient errors
  backoff_initial: 500ms
  backoff_max: 30s
http:
  connect_timeout: 10s
  timeout: 60s
  # ca_file: certs/ca.pem      # extra CA for TLS (self-hosted mirrors)
)";

void print(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
}

}  // namespace

int cmd_init(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "plans", ec);
  fs::create_directories(fs::path(dir) / "providers", ec);
  if (ec) {
    spdlog::error("init: cannot create {}: {}", dir, ec.message());
    return kConfig;
  }
  auto write_new = [&](const fs::path& p, const std::string& text) {
    if (fs::exists(p)) {
      std::printf("kept      %s (exists)\n", p.string().c_str());
      return;
    }
    std::ofstream(p) << text;
    std::printf("wrote     %s\n", p.string().c_str());
  };
  write_new(fs::path(dir) / "finsync.yaml", kWorkspaceTemplate);
  for (const auto& f : config::builtin_examples_files())
    write_new(fs::path(dir) / "plans" / fs::path(f.name).filename(), f.text);
  std::printf("next: finsync -w %s validate && finsync -w %s run tushare-daily\n", dir.c_str(),
              dir.c_str());
  return kDone;
}

int cmd_validate(const GlobalOptions& g, const std::vector<std::string>& plans) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  std::vector<std::string> files = plans;
  std::error_code ec;
  if (plans.empty() && fs::is_directory(ctx.workspace.plans_dir, ec))
    for (const auto& e : fs::directory_iterator(ctx.workspace.plans_dir, ec))
      if (e.path().extension() == ".yaml" || e.path().extension() == ".yml")
        files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  int errors = 0;
  for (const auto& f : files) {
    auto plan = config::load_plan_file(f);
    Result<void> ok = plan ? check_plan(ctx, *plan) : Result<void>(fail(plan.error()));
    if (!ok) {
      spdlog::error("{}", ok.error().message);
      ++errors;
    } else {
      std::printf("ok        %s (plan %s)\n", f.c_str(), plan->name.c_str());
    }
  }
  std::printf("%s: %zu providers, %zu plans, %d error%s\n",
              ctx.workspace.file.empty() ? "defaults" : ctx.workspace.file.c_str(),
              ctx.catalog.providers.size(), files.size(), errors, errors == 1 ? "" : "s");
  return errors ? kConfig : kDone;
}

int cmd_providers_list(const GlobalOptions& g) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  for (const auto& [name, p] : ctx.catalog.providers) {
    std::vector<std::string> eps;
    for (const auto& [e, _] : p.endpoints) eps.push_back(e);
    std::printf("%-14s %-40s %s\n", name.c_str(), p.source.c_str(),
                fmt::format("{}", fmt::join(eps, ", ")).c_str());
  }
  return kDone;
}

int cmd_providers_show(const GlobalOptions& g, const std::string& name) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  const config::ProviderDef* p = ctx.catalog.find(name);
  if (p == nullptr) {
    spdlog::error("provider '{}' is not defined (see finsync providers list)", name);
    return kConfig;
  }
  std::string out =
      fmt::format("provider  {}\nsource    {}\nbase_url  {}\nauth      {}{}\n", p->name, p->source,
                  p->base_url.text, p->auth.kind,
                  p->auth.kind == "none"
                      ? ""
                      : fmt::format(" ({}, value from {})", p->auth.field, p->auth.value.text));
  for (const auto& w : engine::account_limits(*p, ctx.workspace).windows)
    out += fmt::format("limit     {}\n", w.name());
  for (const auto& [n, e] : p->endpoints) {
    std::vector<std::string> cols;
    for (const auto& c : e.columns) cols.push_back(fmt::format("{}:{}", c.name, to_string(c.type)));
    out += fmt::format("\nendpoint  {}\n  key     {}\n  columns {}\n", n,
                       fmt::join(e.primary_key, ", "), fmt::join(cols, ", "));
    if (e.max_rows_per_request) out += fmt::format("  row cap {}\n", e.max_rows_per_request);
  }
  print(secrets::mask(out));
  return kDone;
}

namespace {

// Requests per second the plan's latest run that sent any achieved, wall clock (waits included).
double achieved_rate(state::StateStore& store, const std::string& plan) {
  auto runs = store.list_runs(plan, 20);
  if (!runs) return 0;
  for (const auto& r : *runs) {
    if (r.requests <= 0 || !r.finished_at) continue;
    const double secs = std::chrono::duration<double>(*r.finished_at - r.started_at).count();
    if (secs > 0) return double(r.requests) / secs;
  }
  return 0;
}

std::string eta_line(const engine::Eta& e, int64_t requests, double rate) {
  if (!e.known)
    return fmt::format(
        "  eta       unknown for {} requests: no limit applies and no run has sent "
        "a request yet\n",
        requests);
  const std::string run =
      rate > 0 ? fmt::format("the last run's rate, {:.2f} requests/s", rate) : std::string();
  std::string why;
  if (e.bound_by_run)
    why = e.limit_window.empty()
              ? fmt::format("bound by {} (no limit applies)", run)
              : fmt::format("bound by {} (limit {} allows {})", run, e.limit_window,
                            report::format_duration(e.limit_seconds));
  else
    why = fmt::format(
        "bound by limit {}{}", e.limit_window,
        rate > 0 ? fmt::format(" ({} would take {})", run, report::format_duration(e.run_seconds))
                 : "");
  return fmt::format("  eta       {} for {} requests: {}\n", report::format_duration(e.seconds),
                     requests, why);
}

std::string utc_text(TimePoint t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(t));
}

// One line per process that holds tasks of the plan, and whether a run may take them now.
std::string lease_lines(const std::vector<state::Task>& tasks, TimePoint now) {
  struct Held {
    int64_t tasks = 0;
    TimePoint until{};
  };
  std::map<std::string, Held> by_holder;
  for (const auto& t : tasks) {
    if (t.state != state::TaskState::running || t.lease_holder.empty() || !t.lease_until) continue;
    Held& h = by_holder[t.lease_holder];
    h.until = h.tasks == 0 ? *t.lease_until : std::max(h.until, *t.lease_until);
    ++h.tasks;
  }
  std::string out;
  for (const auto& [holder, h] : by_holder) {
    const char* why = engine::holder_gone(holder)
                          ? " (its process is gone: the next run takes them)"
                      : h.until <= now ? " (expired: the next run takes them)"
                                       : "";
    out += fmt::format("  leased    {} tasks to {} until {}{}\n", h.tasks, holder,
                       utc_text(h.until), why);
  }
  return out;
}

}  // namespace

int cmd_status(const GlobalOptions& g, const std::string& plan_filter) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto store = open_state_store(ctx, /*create=*/false);
  if (!store && store.error().kind == ErrorKind::not_found) {
    std::printf("no plans have run in this workspace yet (%s)\n", store.error().message.c_str());
    return kDone;
  }
  if (!store) {
    spdlog::error("{}", store.error().message);
    return exit_code_for(store.error());
  }
  auto plans = (*store)->list_plans();
  if (!plans) {
    spdlog::error("{}", plans.error().message);
    return kInternal;
  }
  SystemClock clock;
  auto ledger = plans->empty() ? nullptr : (*store)->open_ledger().value_or(nullptr);
  // Quota spent in each window of an account, from the shared ledger: read once per provider.
  struct Account {
    engine::AccountLimits limits;
    std::vector<ratelimit::Usage> usage;
  };
  std::map<std::string, Account> accounts;
  auto account = [&](const config::ProviderDef& pdef) -> const Account& {
    auto [it, fresh] = accounts.try_emplace(pdef.name);
    if (fresh) {
      it->second.limits = engine::account_limits(pdef, ctx.workspace);
      if (ledger != nullptr) {
        const auto& l = it->second.limits;
        ratelimit::Limiter limiter({l.provider, l.account, l.windows, {}}, *ledger, clock);
        if (auto u = limiter.usage()) it->second.usage = std::move(*u);
      }
    }
    return it->second;
  };
  std::printf("%-24s %8s %10s %8s %8s %8s %8s %12s\n", "PLAN", "TASKS", "SUCCEEDED", "PENDING",
              "FAILED", "PARKED", "DEAD", "ROWS");
  for (const auto& p : *plans) {
    if (!plan_filter.empty() && p.name != plan_filter) continue;
    auto tasks = (*store)->list_tasks(p.name);
    if (!tasks) continue;
    std::map<state::TaskState, int64_t> n;
    int64_t rows = 0, total = 0, done_requests = 0;
    std::optional<TimePoint> resume;
    for (const auto& t : *tasks) {
      if (t.state == state::TaskState::split) continue;
      ++n[t.state];
      ++total;
      rows += t.rows;
      if (t.state == state::TaskState::succeeded) done_requests += t.requests;
      if (t.state == state::TaskState::parked && t.resume_at && (!resume || *t.resume_at < *resume))
        resume = t.resume_at;
    }
    std::printf("%-24s %8lld %10lld %8lld %8lld %8lld %8lld %12lld\n", p.name.c_str(),
                (long long)total, (long long)n[state::TaskState::succeeded],
                (long long)(n[state::TaskState::pending] + n[state::TaskState::running]),
                (long long)n[state::TaskState::failed], (long long)n[state::TaskState::parked],
                (long long)n[state::TaskState::dead], (long long)rows);
    if (!p.control.empty()) std::printf("  control   %s\n", p.control.c_str());
    if (resume) std::printf("  parked until %s\n", utc_text(*resume).c_str());
    print(lease_lines(*tasks, clock.now()));
    auto def = config::parse_plan(p.spec_yaml, p.name);
    const config::ProviderDef* pdef = def ? ctx.catalog.find(def->provider) : nullptr;
    const config::EndpointDef* ep = pdef ? pdef->endpoint(def->endpoint) : nullptr;
    const int64_t tasks_left = n[state::TaskState::pending] + n[state::TaskState::running] +
                               n[state::TaskState::failed] + n[state::TaskState::parked];
    if (pdef == nullptr) continue;
    const Account& acc = account(*pdef);
    if (ep == nullptr || tasks_left == 0) continue;
    // Paginated tasks take several requests: as many as the landed ones took on average.
    const int64_t succeeded = n[state::TaskState::succeeded];
    const int64_t requests = succeeded > 0 && done_requests > succeeded
                                 ? (tasks_left * done_requests + succeeded - 1) / succeeded
                                 : tasks_left;
    engine::EtaInput in;
    in.requests = requests;
    in.weight = ep->weight_for(def->params);
    in.endpoint = ep->name;
    in.windows = acc.limits.windows;
    in.usage = acc.usage;
    in.now = clock.now();
    in.resume_at = resume;
    in.achieved_rate = achieved_rate(**store, p.name);
    print(eta_line(engine::estimate_eta(in), requests, in.achieved_rate));
  }
  for (const auto& [name, acc] : accounts) {
    for (const auto& u : acc.usage) {
      std::string resets;
      if (u.resets_at)
        resets = fmt::format(
            ", resets in {}",
            report::format_duration(
                std::max(0.0, std::chrono::duration<double>(*u.resets_at - clock.now()).count())));
      std::printf("limit %-10s %-40s %lld/%lld used%s\n", name.c_str(), u.window.c_str(),
                  (long long)u.used, (long long)u.limit, resets.c_str());
    }
  }
  return kDone;
}

int cmd_report(const GlobalOptions& g, const std::string& run, bool json) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  auto store = open_state_store(ctx, /*create=*/false);
  if (!store && store.error().kind == ErrorKind::not_found) {
    spdlog::error("no runs yet in this workspace ({})", store.error().message);
    return kConfig;
  }
  if (!store) {
    spdlog::error("{}", store.error().message);
    return exit_code_for(store.error());
  }
  state::RunRecord rec;
  if (!run.empty()) {
    auto r = (*store)->get_run(run);
    if (r && *r) {
      rec = **r;
    } else {
      // A plan name selects its latest run.
      auto runs = (*store)->list_runs(run, 1);
      if (!runs || runs->empty()) {
        spdlog::error("no run '{}' (expected a run id or a plan name; see finsync status)", run);
        return kConfig;
      }
      rec = runs->front();
    }
  } else {
    auto runs = (*store)->list_runs("", 1);
    if (!runs || runs->empty()) {
      spdlog::error("no runs yet in this workspace");
      return kConfig;
    }
    rec = runs->front();
  }
  print(json ? report::to_json(rec) + "\n" : report::to_table(rec));
  return kDone;
}

int cmd_query(const GlobalOptions& g, const std::string& sql) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  if (!fs::exists(ctx.workspace.staging_path())) {
    spdlog::error("no data yet: {} does not exist (run a plan first)",
                  ctx.workspace.staging_path());
    return kConfig;
  }
  auto out = sink::run_query(ctx.workspace.staging_path(), ctx.workspace.data_dir, sql,
                             sink::QueryFormat::table);
  if (!out) {
    spdlog::error("{}", out.error().message);
    return out.error().kind == ErrorKind::transient ? kInternal : kConfig;
  }
  print(*out);
  return kDone;
}

}  // namespace finsync::app
