// finsync: the only place where modules are wired together.
#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "core/failpoint.hpp"
#include "core/logging.hpp"

int main(int argc, char** argv) {
  using namespace finsync::app;
  CLI::App cli{"finsync: keeps a local copy of financial market data in step with its providers"};
  cli.require_subcommand(1);
  cli.set_version_flag("--version", "finsync 0.1.0");
  GlobalOptions g;
  cli.add_option("-w,--workspace", g.workspace,
                 "workspace directory holding finsync.yaml (default: $FINSYNC_WORKSPACE or .)");
  cli.add_option("--log-level", g.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  cli.add_option("--log-format", g.log_format, "text or json")->capture_default_str();

  std::string init_dir = ".";
  auto* init = cli.add_subcommand("init", "write a workspace (finsync.yaml) and an example plan");
  init->add_option("dir", init_dir, "directory")->capture_default_str();

  std::vector<std::string> validate_plans;
  auto* validate = cli.add_subcommand("validate", "check all configuration without the network");
  validate->add_option("plans", validate_plans, "plan files (default: every plan in plans_dir)");

  auto* providers = cli.add_subcommand("providers", "provider definitions");
  providers->require_subcommand(1);
  auto* providers_list = providers->add_subcommand("list", "list providers and endpoints");
  std::string provider_name;
  auto* providers_show = providers->add_subcommand("show", "show one provider");
  providers_show->add_option("name", provider_name)->required();

  RunArgs run_args;
  auto* run = cli.add_subcommand("run", "run a plan: backfill what is not landed yet");
  run->add_option("plan", run_args.plan, "plan file or plan name")->required();
  run->add_flag("--replan", run_args.replan,
                "accept a changed endpoint, sink or write mode and plan again from scratch");
  run->add_flag("--no-wait", run_args.no_wait,
                "when a quota is spent, exit 75 instead of waiting for its reset");
  run->add_option("-c,--concurrency", run_args.concurrency, "requests in flight")
      ->check(CLI::Range(1, 256));

  std::string status_plan;
  auto* status = cli.add_subcommand("status", "plans and their tasks");
  status->add_option("plan", status_plan);

  std::string report_run;
  bool report_json = false;
  auto* report = cli.add_subcommand("report", "report of a run (default: the latest)");
  report->add_option("run", report_run, "run id or plan name");
  report->add_flag("--json", report_json, "JSON (schema in docs/report.md)");

  std::string sql;
  RunArgs estimate_args;
  estimate_args.estimate_only = true;
  auto* plan_cmd = cli.add_subcommand("plan", "inspect plans");
  plan_cmd->require_subcommand(1);
  auto* estimate = plan_cmd->add_subcommand(
      "estimate", "requests, rows, bytes and time a backfill needs under the limits");
  estimate->add_option("plan", estimate_args.plan, "plan file or plan name")->required();

  std::string plan_name;
  auto* plan_list = plan_cmd->add_subcommand("list", "plans of this workspace and their state");
  auto* plan_show = plan_cmd->add_subcommand("show", "a plan's spec, state and tasks per state");
  plan_show->add_option("plan", plan_name)->required();
  auto* plan_rm = plan_cmd->add_subcommand("rm", "forget a plan's tasks and runs (data stays)");
  plan_rm->add_option("plan", plan_name)->required();
  PlanAddArgs add;
  auto* plan_add = plan_cmd->add_subcommand(
      "add", "check a plan file, or write one from flags, and put it in plans_dir");
  plan_add->add_option("file", add.file, "a plan file (or give the flags below instead)");
  plan_add->add_option("--name", add.name, "plan name (no spaces or slashes)");
  plan_add->add_option("--provider", add.provider, "provider (finsync providers list)");
  plan_add->add_option("--endpoint", add.endpoint, "endpoint of the provider");
  plan_add
      ->add_option(
          "--param", add.params,
          "fixed request parameter NAME=VALUE, repeatable; a credential only as 'NAME=${VAR}'")
      ->expected(1)
      ->take_all();
  plan_add->add_option("--symbols", add.symbols, "symbols A,B,...");
  plan_add->add_option("--symbols-from", add.symbols_from, "endpoint that lists the symbols");
  plan_add->add_option("--symbols-file", add.symbols_file, "file of symbols, one a line");
  plan_add->add_option("--from", add.from, "first day, YYYY-MM-DD");
  plan_add->add_option("--to", add.to, "last day, YYYY-MM-DD or today");
  plan_add->add_option("--sink", add.sink,
                       "KIND:PATH[,key=value...] or KIND:URL[?key=value&...], e.g. "
                       "parquet:./data,partition_by=ts_code+year (docs/configuration.md)");
  auto* pause = cli.add_subcommand("pause", "stop sending requests for a plan (in flight land)");
  pause->add_option("plan", plan_name)->required();
  auto* resume = cli.add_subcommand("resume", "undo pause or cancel");
  resume->add_option("plan", plan_name)->required();
  auto* cancel = cli.add_subcommand("cancel", "stop a plan and cancel its remaining tasks");
  cancel->add_option("plan", plan_name)->required();
  RetryArgs retry_args;
  auto* retry = cli.add_subcommand("retry", "queue failed or dead tasks again");
  retry->add_option("plan", retry_args.plan)->required();
  retry->add_flag("--failed", retry_args.failed, "tasks in state failed");
  retry->add_flag("--dead", retry_args.dead, "tasks in state dead");
  retry->add_option("--task", retry_args.task, "one task by id");

  RunArgs verify_args;
  verify_args.verify_only = true;
  auto* verify = cli.add_subcommand(
      "verify", "landed days per symbol against the trading calendar and listing dates");
  verify->add_option("plan", verify_args.plan, "plan file or plan name")->required();
  verify->add_flag("--fix", verify_args.fix,
                   "queue tasks for the gaps; the next `finsync run` fetches exactly them");

  auto* query = cli.add_subcommand("query", "SQL over the DuckDB store and landed files");
  query->add_option("sql", sql)->required();

  std::string sinks_plan;
  auto* sinks_cmd = cli.add_subcommand("sinks", "check where plans land");
  sinks_cmd->require_subcommand(1);
  auto* sinks_check = sinks_cmd->add_subcommand(
      "check", "connect to a plan's sink: server version, table, columns against the schema");
  sinks_check->add_option("plan", sinks_plan, "plan file or plan name")->required();

  std::string export_plan;
  auto* export_cmd = cli.add_subcommand(
      "export", "rebuild a plan's excel workbook from the staging store (temp file + rename)");
  export_cmd->add_option("plan", export_plan, "plan file or plan name")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    return rc == 0 ? kDone : kUsage;
  }
  if (auto ok = finsync::logging::setup(g.log_level, g.log_format); !ok) {
    std::fprintf(stderr, "finsync: %s\n", ok.error().message.c_str());
    return kUsage;
  }
  // A misspelt failpoint would let a crash test pass without crashing: refuse it like any other
  // configuration error.
  if (auto fp = finsync::failpoint::configure_from_env(); !fp) {
    std::fprintf(stderr, "finsync: %s\n", fp.error().message.c_str());
    return kConfig;
  }
  if (*init) return cmd_init(init_dir);
  if (*validate) return cmd_validate(g, validate_plans);
  if (*providers_list) return cmd_providers_list(g);
  if (*providers_show) return cmd_providers_show(g, provider_name);
  if (*run) return cmd_run(g, run_args);
  if (*estimate) return cmd_run(g, estimate_args);
  if (*plan_list) return cmd_plan_list(g);
  if (*plan_show) return cmd_plan_show(g, plan_name);
  if (*plan_rm) return cmd_plan_rm(g, plan_name);
  if (*plan_add) return cmd_plan_add(g, add);
  if (*pause) return cmd_pause(g, plan_name);
  if (*resume) return cmd_resume(g, plan_name);
  if (*cancel) return cmd_cancel(g, plan_name);
  if (*retry) return cmd_retry(g, retry_args);
  if (*status) return cmd_status(g, status_plan);
  if (*report) return cmd_report(g, report_run, report_json);
  if (*verify) return cmd_run(g, verify_args);
  if (*query) return cmd_query(g, sql);
  if (*sinks_check) return cmd_sinks_check(g, sinks_plan);
  if (*export_cmd) return cmd_export(g, export_plan);
  return kUsage;
}
