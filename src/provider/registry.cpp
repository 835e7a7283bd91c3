#include <fmt/format.h>

#include "core/dates.hpp"
#include "provider/provider.hpp"
#include "provider/rest_provider.hpp"

namespace finsync::provider {

void ProviderRegistry::add(std::string kind, ProviderFactory factory) {
  factories_[std::move(kind)] = std::move(factory);
}

Result<std::unique_ptr<Provider>> ProviderRegistry::create(const config::ProviderDef& def) const {
  // Definitions have one kind today; the registry is where code-backed vendors plug in.
  auto it = factories_.find("rest");
  if (it == factories_.end())
    return fail(ErrorKind::internal, fmt::format("no implementation for provider {}", def.name));
  return it->second(def);
}

void register_builtin_providers(ProviderRegistry& registry) {
  registry.add("rest", [](const config::ProviderDef& def) { return make_rest_provider(def); });
}

Params task_params(const config::EndpointDef& endpoint, const Params& fixed,
                   const std::string& symbol, std::optional<int32_t> start_day,
                   std::optional<int32_t> end_day) {
  Params out = fixed;
  if (!symbol.empty() && !endpoint.symbol_param.empty())
    out.emplace_back(endpoint.symbol_param, symbol);
  auto put_date = [&](const std::string& name, std::optional<int32_t> day, bool end) {
    if (name.empty() || !day) return;
    const config::ParamDef* p = endpoint.param(name);
    if (p != nullptr && p->format == "epoch_ms") {
      constexpr int64_t ms_per_day = 86'400'000;
      const int64_t first_ms = int64_t(*day) * ms_per_day;
      out.emplace_back(name, std::to_string(end ? first_ms + ms_per_day - 1 : first_ms));
      return;
    }
    out.emplace_back(name, dates::format(*day, p ? p->format : "%Y-%m-%d"));
  };
  put_date(endpoint.window_start_param, start_day, false);
  put_date(endpoint.window_end_param, end_day, true);
  return out;
}

}  // namespace finsync::provider
