#pragma once
#include <string>
#include <vector>

#include "app/workspace_context.hpp"

namespace finsync::app {

struct RunArgs {
  std::string plan;
  bool replan = false;
  int concurrency = 0;
  bool no_wait = false;
  bool estimate_only = false;  // `plan estimate`: plan and price the backfill, fetch no data
  bool verify_only = false;    // `verify`: compare the landed days with the calendar
  bool fix = false;            // `verify --fix`: queue tasks for the gaps
};

struct RetryArgs {
  std::string plan;
  bool failed = false;
  bool dead = false;
  std::string task;
};

// `plan add`: a FILE, or the flags of a plan written to plans_dir.
struct PlanAddArgs {
  std::string file;
  std::string name;
  std::string provider;
  std::string endpoint;
  std::vector<std::string> params;  // NAME=VALUE
  std::string symbols;              // A,B
  std::string symbols_from;         // an endpoint that lists symbols
  std::string symbols_file;         // one symbol a line
  std::string from;
  std::string to;    // a date or "today"
  std::string sink;  // SPEC (config/sink_spec.hpp)
  bool any_flag() const;
};

int cmd_init(const std::string& dir);
int cmd_validate(const GlobalOptions& g, const std::vector<std::string>& plans);
int cmd_providers_list(const GlobalOptions& g);
int cmd_providers_show(const GlobalOptions& g, const std::string& name);
int cmd_run(const GlobalOptions& g, const RunArgs& args);
int cmd_status(const GlobalOptions& g, const std::string& plan);
int cmd_report(const GlobalOptions& g, const std::string& run, bool json);
int cmd_query(const GlobalOptions& g, const std::string& sql);
int cmd_sinks_check(const GlobalOptions& g, const std::string& plan);
// Rebuilds the workbook of a plan whose sink is excel from the staging store.
int cmd_export(const GlobalOptions& g, const std::string& plan);
int cmd_pause(const GlobalOptions& g, const std::string& plan);
int cmd_resume(const GlobalOptions& g, const std::string& plan);
int cmd_cancel(const GlobalOptions& g, const std::string& plan);
int cmd_retry(const GlobalOptions& g, const RetryArgs& args);
int cmd_plan_list(const GlobalOptions& g);
int cmd_plan_show(const GlobalOptions& g, const std::string& plan);
int cmd_plan_rm(const GlobalOptions& g, const std::string& plan);
int cmd_plan_add(const GlobalOptions& g, const PlanAddArgs& args);

}  // namespace finsync::app
