#include "engine/limits.hpp"

namespace finsync::engine {

AccountLimits account_limits(const config::ProviderDef& p, const config::WorkspaceDef& ws) {
  AccountLimits out;
  out.provider = p.name;
  out.defs = p.rate_limits;
  out.max_in_flight = p.max_in_flight;
  if (auto it = ws.accounts.find(p.name); it != ws.accounts.end()) {
    out.account = it->second.label;
    if (!it->second.rate_limits.empty()) out.defs = it->second.rate_limits;
    if (it->second.max_in_flight > 0) out.max_in_flight = it->second.max_in_flight;
  } else {
    out.account = "default";
  }
  for (const auto& d : out.defs) {
    ratelimit::WindowSpec w;
    // An IP-wide limit binds every account of the provider on this machine.
    w.account = d.scope == "ip" ? "" : out.account;
    w.endpoint = d.scope == "endpoint" ? d.endpoint : "";
    w.limit = d.limit;
    w.per = d.per;
    w.align = d.align == "epoch"   ? ratelimit::Align::epoch
              : d.align == "clock" ? ratelimit::Align::clock
                                   : ratelimit::Align::sliding;
    w.reset_offset = d.reset_offset;
    w.zone = d.zone;
    w.quota = d.quota;
    w.used_header = d.used_header;
    out.windows.push_back(std::move(w));
  }
  return out;
}

}  // namespace finsync::engine
