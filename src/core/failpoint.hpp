#pragma once
// Named failpoints, compiled into every build: crash tests make each dangerous moment happen
// on purpose (FINSYNC_FAILPOINTS="name:kill,name2:kill@3,name3:error@2") instead of hoping a
// random signal lands there.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/error.hpp"

namespace finsync::failpoint {

struct Point {
  std::string_view name;
  std::string_view where;
};

// The registry: every failpoint there is, and the moment it stands for. Sites name an entry of
// this list (checked at compile time); FINSYNC_FAILPOINTS may name only these.
inline constexpr std::array<Point, 6> kPoints{{
    {"engine.fetched_not_landed",
     "a response is parsed into rows; the task is not queued for landing yet"},
    {"sink.inside_staging_write",
     "inside a sink's write: part of the rows are buffered or sent, nothing is committed"},
    {"sink.after_commit_before_checkpoint",
     "the sink's commit (rows + landed markers) is done; no separate task checkpoint is saved "
     "yet"},
    {"state.inside_task_write",
     "inside the state store transaction that writes a task, before it commits"},
    {"sink.inside_materialize",
     "before renaming a partition's temp file: earlier partitions are renamed, later ones not"},
    {"engine.between_pages",
     "a page of a paginated task is landed with its cursor; the next page is not requested yet"},
}};

consteval size_t index_of(std::string_view name) {
  for (size_t i = 0; i < kPoints.size(); ++i)
    if (kPoints[i].name == name) return i;
  throw "unknown failpoint name";  // not a constant expression: compilation fails
}

// Parses a FINSYNC_FAILPOINTS value and arms it, replacing what was armed. An unknown name, an
// unknown action or a bad hit number is an error naming the known failpoints.
Result<void> configure(std::string_view spec);
// Reads FINSYNC_FAILPOINTS once, at start-up.
Result<void> configure_from_env();

namespace detail {
extern std::atomic<bool> armed;
Result<void> hit_slow(size_t index);
}  // namespace detail

// Counts one pass through failpoint `index`; at its armed hit, kills the process (SIGKILL) or
// returns an internal error. Unarmed: one relaxed atomic load.
inline Result<void> hit(size_t index) {
  if (!detail::armed.load(std::memory_order_relaxed)) return {};
  return detail::hit_slow(index);
}

// Passes through failpoint `index` so far (counted only while something is armed).
int64_t hits(size_t index);

}  // namespace finsync::failpoint

// FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint") -> Result<void>; the name is checked
// against the registry at compile time.
#define FINSYNC_FAILPOINT(name) \
  ::finsync::failpoint::hit(std::integral_constant<size_t, ::finsync::failpoint::index_of(name)>{})
