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
};

int cmd_init(const std::string& dir);
int cmd_validate(const GlobalOptions& g, const std::vector<std::string>& plans);
int cmd_providers_list(const GlobalOptions& g);
int cmd_providers_show(const GlobalOptions& g, const std::string& name);
int cmd_run(const GlobalOptions& g, const RunArgs& args);
int cmd_status(const GlobalOptions& g, const std::string& plan);
int cmd_report(const GlobalOptions& g, const std::string& run, bool json);
int cmd_query(const GlobalOptions& g, const std::string& sql);

}  // namespace finsync::app
