#pragma once
// `finsync verify PLAN [--fix]`, run inside `finsync run`'s wiring (it needs the fetcher for the
// trading calendar and the sink to read the landed days back).
#include <boost/asio/io_context.hpp>

#include "config/plan_def.hpp"
#include "config/provider_def.hpp"
#include "engine/fetcher.hpp"
#include "sink/sink.hpp"
#include "state/state_store.hpp"

namespace finsync::app {

int run_verify(boost::asio::io_context& io, const config::PlanDef& plan,
               const config::EndpointDef& endpoint, engine::Fetcher& fetcher,
               state::StateStore& store, sink::Sink& sink, const sink::TableSpec& table, bool fix);

}  // namespace finsync::app
