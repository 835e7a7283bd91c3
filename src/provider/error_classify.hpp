#pragma once
// Turns a response into an ErrorKind: the provider's rules first (HTTP status, body codes,
// message patterns in any language), then HTTP status defaults.
#include <optional>

#include <simdjson.h>

#include "config/provider_def.hpp"
#include "core/clock.hpp"
#include "net/http_client.hpp"

namespace finsync::provider {

// root: the parsed body, or nullptr when it is not JSON. Returns nullopt for a good response.
std::optional<Error> classify_response(const config::ProviderDef& def,
                                       const net::HttpResponse& response,
                                       const simdjson::dom::element* root, TimePoint now);

}  // namespace finsync::provider
