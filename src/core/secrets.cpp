#include "core/secrets.hpp"

#include <algorithm>
#include <mutex>
#include <regex>
#include <vector>

namespace finsync::secrets {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<std::string>& registry() {
  static std::vector<std::string> values;
  return values;
}

// Credentials recognised by their shape: user:password@ in URLs, and values of keys whose name
// says they are secret, in query strings, form bodies, JSON and YAML-ish "key: value" text.
const std::regex& url_password() {
  static const std::regex re(R"(([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)@)");
  return re;
}
const std::regex& keyed_value() {
  static const std::regex re(
      R"re(((?:^|[^A-Za-z0-9_])["']?(?:token|api[_-]?key|apikey|access[_-]?token|password|passwd|secret)["']?\s*[=:]\s*["']?)([^"'&\s,}]+))re",
      std::regex::icase);
  return re;
}

}  // namespace

void register_secret(std::string_view value) {
  // Very short values would mask unrelated text everywhere; they are not plausible secrets.
  if (value.size() < 4) return;
  std::lock_guard lock(registry_mutex());
  auto& r = registry();
  if (std::find(r.begin(), r.end(), value) == r.end()) r.emplace_back(value);
  // Longest first, so a secret that contains another is masked whole.
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string mask(std::string_view text) {
  std::string out(text);
  {
    std::lock_guard lock(registry_mutex());
    for (const auto& s : registry()) {
      for (size_t pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + 3))
        out.replace(pos, s.size(), "***");
    }
  }
  if (out.find("://") != std::string::npos) out = std::regex_replace(out, url_password(), "$1***@");
  out = std::regex_replace(out, keyed_value(), "$1***");
  return out;
}

}  // namespace finsync::secrets
