#pragma once
#include "provider/provider.hpp"

namespace finsync::provider {

Result<std::unique_ptr<Provider>> make_rest_provider(const config::ProviderDef& def);

}  // namespace finsync::provider
