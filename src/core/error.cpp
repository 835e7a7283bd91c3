#include "core/error.hpp"

namespace finsync {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::transient:
      return "transient";
    case ErrorKind::unreachable:
      return "unreachable";
    case ErrorKind::rate_limited:
      return "rate_limited";
    case ErrorKind::quota_exhausted:
      return "quota_exhausted";
    case ErrorKind::auth:
      return "auth";
    case ErrorKind::permanent:
      return "permanent";
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace finsync
