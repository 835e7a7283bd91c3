#pragma once
// Errors are classified by what the caller should do next, not by where they came from.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace finsync {

using Clock_t = std::chrono::system_clock;
using TimePoint = Clock_t::time_point;

enum class ErrorKind {
  transient,        // retry soon with backoff
  unreachable,      // transport failure (refused, timeout): retried like transient, exit 69 if it
                    // persists
  rate_limited,     // wait for a window (retry_at), not a failure
  quota_exhausted,  // park until the quota resets
  auth,             // stop the plan and alert
  permanent,        // stop the task (dead)
  invalid_input,    // reject at once (config, usage)
  not_found,
  cancelled,
  internal,
};

std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::optional<TimePoint> retry_at;
};

template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message), std::nullopt});
}
inline tl::unexpected<Error> fail(Error e) {
  return tl::unexpected<Error>(std::move(e));
}

}  // namespace finsync
