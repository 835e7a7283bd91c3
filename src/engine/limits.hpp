#pragma once
// The windows one account of a provider lives under: the provider file's, or the account's own
// from finsync.yaml (`accounts:`), as limiter windows.
#include <string>
#include <vector>

#include "config/provider_def.hpp"
#include "config/workspace.hpp"
#include "ratelimit/window.hpp"

namespace finsync::engine {

struct AccountLimits {
  std::string provider;
  std::string account;
  std::vector<config::RateLimitDef> defs;  // as configured, parallel to windows
  std::vector<ratelimit::WindowSpec> windows;
  int max_in_flight = 0;
};

AccountLimits account_limits(const config::ProviderDef& provider,
                             const config::WorkspaceDef& workspace);

}  // namespace finsync::engine
