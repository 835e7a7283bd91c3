#pragma once
// What every command loads first: the workspace and the provider catalog.
#include <memory>
#include <optional>
#include <string>

#include "app/exit_codes.hpp"
#include "config/catalog.hpp"
#include "config/plan_def.hpp"
#include "config/workspace.hpp"
#include "state/state_store.hpp"

namespace finsync::app {

struct GlobalOptions {
  std::string workspace;
  std::string log_level = "info";
  std::string log_format = "text";
};

struct Context {
  config::WorkspaceDef workspace;
  config::Catalog catalog;
};

// Prints the error and returns the exit code on failure.
int load_context(const GlobalOptions& g, Context& ctx);
// The workspace's state store (state.kind). create = false: a store that does not exist yet is
// not_found rather than created, so looking something up leaves no store behind.
Result<std::unique_ptr<state::StateStore>> open_state_store(const Context& ctx, bool create);
// A plan file path, or the name of a plan in plans_dir or in the state store.
Result<config::PlanDef> resolve_plan(const Context& ctx, const std::string& ref);
// Checks a plan against the catalog without touching the network or the environment.
Result<void> check_plan(const Context& ctx, const config::PlanDef& plan);
int exit_code_for(const Error& e);
// load_context, resolve_plan and check_plan; prints the error and returns the exit code.
int load_checked_plan(const GlobalOptions& g, const std::string& ref, Context& ctx,
                      std::optional<config::PlanDef>& plan);

}  // namespace finsync::app
