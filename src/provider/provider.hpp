#pragma once
// A provider only builds requests and maps responses; the engine owns transport, pacing,
// retries and pagination. Most providers are pure YAML on RestProvider.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/provider_def.hpp"
#include "core/error.hpp"
#include "core/record_batch.hpp"
#include "net/http_client.hpp"

namespace finsync::provider {

using Params = std::vector<std::pair<std::string, std::string>>;  // already formatted

struct Page {
  RecordBatch batch;
  // pagination next_url: the absolute URL of the next page, as the provider sent it.
  std::optional<std::string> next_cursor;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const config::ProviderDef& def() const = 0;
  virtual Result<net::HttpRequest> build_request(const config::EndpointDef& endpoint,
                                                 const Params& params) const = 0;
  // The request for a next_url the provider sent: vendors leave the key out of it (Polygon), so
  // the provider's auth is applied again.
  virtual Result<net::HttpRequest> build_follow_request(const config::EndpointDef& endpoint,
                                                        const std::string& url) const = 0;
  // Classifies the response (error rules, then HTTP status) and maps rows into a batch;
  // `params` are the request's, for columns filled from a parameter.
  virtual Result<Page> parse_response(const config::EndpointDef& endpoint, const Params& params,
                                      const net::HttpResponse& response) = 0;
};

// Secrets (auth value, base URL) are expanded when a provider is created, so only providers a
// command uses need their variables set.
using ProviderFactory =
    std::function<Result<std::unique_ptr<Provider>>(const config::ProviderDef&)>;

class ProviderRegistry {
 public:
  void add(std::string kind, ProviderFactory factory);
  Result<std::unique_ptr<Provider>> create(const config::ProviderDef& def) const;

 private:
  std::map<std::string, ProviderFactory> factories_;
};

// Every built-in provider implementation, registered in one place.
void register_builtin_providers(ProviderRegistry& registry);

// The request parameters of one task: fixed plan parameters, the symbol, and the window
// formatted as the endpoint's parameter definitions say.
Params task_params(const config::EndpointDef& endpoint, const Params& fixed,
                   const std::string& symbol, std::optional<int32_t> start_day,
                   std::optional<int32_t> end_day);

}  // namespace finsync::provider
