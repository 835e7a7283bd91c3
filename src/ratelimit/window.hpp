#pragma once
// One limit of a provider: `limit` weighted requests per `per`, counted either over any sliding
// interval of that length or per calendar period (aligned to the Unix epoch, or reset at a clock
// time in an IANA time zone, as "00:00 Asia/Shanghai").
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace finsync::ratelimit {

enum class Align { sliding, epoch, clock };

struct WindowSpec {
  std::string account;   // "" = every account of the provider (an IP-wide limit)
  std::string endpoint;  // "" = every endpoint
  int64_t limit = 0;
  Clock_t::duration per{};
  Align align = Align::sliding;
  std::chrono::minutes reset_offset{0};  // clock: local time of day of the reset
  std::string zone;                      // clock: IANA zone name
  // A spent quota parks the tasks until the reset instead of waiting in the run.
  bool quota = false;
  // A response header that states the weight used in this window (X-MBX-USED-WEIGHT-1M).
  std::string used_header;

  // Stable identity in the ledger and in messages, e.g. "daily 500/1m" or "10000/1d@00:00
  // Asia/Shanghai".
  std::string name() const;
};

// The calendar period [start, end) that holds `t`; for sliding windows [t - per, t + per).
std::pair<TimePoint, TimePoint> period_of(const WindowSpec& w, TimePoint t);

// "1m", "30s", "1d", "1h30m": the shortest exact spelling of a duration.
std::string format_duration(Clock_t::duration d);

// Parses "HH:MM Area/City"; checks the zone exists in the system tz database.
Result<std::pair<std::chrono::minutes, std::string>> parse_reset(std::string_view text);

}  // namespace finsync::ratelimit
