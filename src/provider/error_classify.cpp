#include "provider/error_classify.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/secrets.hpp"
#include "provider/row_extract.hpp"

namespace finsync::provider {
namespace {

std::optional<std::string> text_at(const simdjson::dom::element* root, const std::string& path) {
  if (root == nullptr || path.empty()) return std::nullopt;
  simdjson::dom::element v;
  if (root->at_pointer(json_pointer(path)).get(v) != simdjson::SUCCESS) return std::nullopt;
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(v.get_string().value());
    case simdjson::dom::element_type::INT64:
      return std::to_string(v.get_int64().value());
    case simdjson::dom::element_type::UINT64:
      return std::to_string(v.get_uint64().value());
    case simdjson::dom::element_type::DOUBLE:
      return fmt::format("{}", v.get_double().value());
    case simdjson::dom::element_type::BOOL:
      return v.get_bool().value() ? "true" : "false";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
    default:
      return std::nullopt;
  }
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::optional<std::chrono::seconds> retry_after_header(const net::HttpResponse& r) {
  const std::string* h = r.header("retry-after");
  if (h == nullptr) return std::nullopt;
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), secs);
  if (ec != std::errc() || secs < 0) return std::nullopt;
  return std::chrono::seconds(secs);
}

}  // namespace

std::optional<Error> classify_response(const config::ProviderDef& def,
                                       const net::HttpResponse& response,
                                       const simdjson::dom::element* root, TimePoint now) {
  const auto message = text_at(root, def.message_path);
  auto describe = [&](std::string_view why) {
    std::string body_hint = message ? *message : response.body.substr(0, 200);
    return secrets::mask(fmt::format("{}: HTTP {}: {}", why, response.status, body_hint));
  };
  auto path_matches = [root](const config::ErrorRuleDef& rule) {
    if (rule.json_path.empty()) return true;
    if (rule.present) {
      simdjson::dom::element any;
      const bool exists =
          root != nullptr &&
          root->at_pointer(json_pointer(rule.json_path)).get(any) == simdjson::SUCCESS;
      if (exists != *rule.present) return false;
      if (!exists || (rule.equals.empty() && rule.not_equals.empty())) return true;
    }
    auto v = text_at(root, rule.json_path);
    if (!v) return false;
    if (!rule.equals.empty() && !contains(rule.equals, *v)) return false;
    return rule.not_equals.empty() || !contains(rule.not_equals, *v);
  };
  for (const auto& rule : def.errors) {
    if (!rule.statuses.empty() && std::find(rule.statuses.begin(), rule.statuses.end(),
                                            response.status) == rule.statuses.end())
      continue;
    if (!path_matches(rule)) continue;
    if (rule.message_re) {
      const std::string& text = message ? *message : response.body;
      if (!std::regex_search(text, *rule.message_re)) continue;
    }
    Error e{rule.kind, describe(fmt::format("{} error", def.name)), std::nullopt};
    if (rule.retry_after) e.retry_at = now + *rule.retry_after;
    if (auto ra = retry_after_header(response)) e.retry_at = now + *ra;
    return e;
  }
  const long s = response.status;
  if (s >= 200 && s < 300) return std::nullopt;
  Error e{ErrorKind::permanent, describe(fmt::format("{} error", def.name)), std::nullopt};
  if (s == 429 || s == 418)
    e.kind = ErrorKind::rate_limited;
  else if (s == 401 || s == 403)
    e.kind = ErrorKind::auth;
  else if (s == 404)
    e.kind = ErrorKind::not_found;
  else if (s >= 500 || s == 408)
    e.kind = ErrorKind::transient;
  if (auto ra = retry_after_header(response)) e.retry_at = now + *ra;
  return e;
}

}  // namespace finsync::provider
