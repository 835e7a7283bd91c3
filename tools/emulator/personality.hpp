// A personality turns one HTTP request into one answer, the way a given vendor API would.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit_log.hpp"
#include "chaos.hpp"

namespace emu {

struct HttpRequest {
  std::string method;  // e.g. "POST"
  std::string target;  // e.g. "/"
  std::string body;
  // Header names in lower case, values as sent (REST personalities read Authorization, Host).
  std::vector<std::pair<std::string, std::string>> headers;
  double arrival = 0;  // unix seconds
  std::uint64_t seq = 0;

  // The first value of a header (name in lower case), empty if absent.
  std::string_view header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

struct HttpReply {
  int http_status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  // Extra response headers (e.g. Binance's X-MBX-USED-WEIGHT-1M, Retry-After).
  std::vector<std::pair<std::string, std::string>> headers;
  // none: send as is; http_error: send as is (a chaos 5xx); drop: close without answering;
  // truncate: send the header with the full Content-Length but half of the body, then close.
  Fault fault = Fault::none;
  // Filled by the personality: api_name, params, fields, token, outcome, code, rows, capped
  // (and weight for binance).
  AuditRecord audit;
};

class Personality {
 public:
  virtual ~Personality() = default;
  virtual std::string_view name() const = 0;
  // Called concurrently from several threads.
  virtual HttpReply handle(const HttpRequest& request) = 0;
  // Fills what the audit log shows about a request (api_name, params, fields, token) without
  // answering it; used for requests that are never answered (--hang).
  virtual void describe(const HttpRequest& /*request*/, AuditRecord& /*audit*/) const {}
};

}  // namespace emu
