#pragma once
// Metadata a plan needs before its data requests: the trading calendar and the symbol universe.
// The resolved universe is stored with the plan, so a resume never re-resolves it.
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/plan_def.hpp"
#include "engine/fetcher.hpp"
#include "plan/calendar.hpp"
#include "plan/planner.hpp"

namespace finsync::engine {

boost::asio::awaitable<Result<plan::TradingCalendar>> fetch_calendar(Fetcher& fetcher,
                                                                     int32_t start_day,
                                                                     int32_t end_day);

boost::asio::awaitable<Result<std::vector<plan::Symbol>>> resolve_universe(
    Fetcher& fetcher, const config::UniverseSpec& spec);

std::string universe_to_json(const std::vector<plan::Symbol>& symbols);
Result<std::vector<plan::Symbol>> universe_from_json(const std::string& json);

}  // namespace finsync::engine
