#pragma once
// Every state store keeps its times as integer microseconds since the Unix epoch (UTC): the same
// numbers in SQLite and PostgreSQL, whatever either's time types would make of them.
#include <chrono>
#include <cstdint>
#include <optional>

#include "core/error.hpp"

namespace finsync::state {

inline int64_t to_micros(TimePoint t) {
  return std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
}
inline TimePoint from_micros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<Clock_t::duration>(std::chrono::microseconds(us)));
}
inline int64_t now_micros() {
  return to_micros(Clock_t::now());
}
inline std::optional<int64_t> opt_micros(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return to_micros(*t);
}

}  // namespace finsync::state
