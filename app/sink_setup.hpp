#pragma once
// From a plan's `sink:` block to a Sink: the spec (with ${VAR}s expanded, or not, for checks
// that must not need secrets), the sink from the registry, and the exactly-once wiring when the
// state store lives in the sink's database.
#include <memory>
#include <string>

#include "app/workspace_context.hpp"
#include "sink/registry.hpp"

namespace finsync::app {

// expand = false keeps ${VAR}s as written (validation without the environment).
Result<sink::SinkSpec> make_sink_spec(const config::PlanDef& plan, bool expand);
sink::SinkContext sink_context(const Context& ctx);
// When the state store is PostgreSQL in the same database as a postgres sink, the sink writes
// each task's checkpoint inside its landing transaction. Returns whether it was wired.
Result<bool> join_state_store(const Context& ctx, const sink::SinkSpec& spec, sink::Sink& sink);

}  // namespace finsync::app
