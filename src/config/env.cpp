#include "config/env.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "core/secrets.hpp"

namespace finsync::config {
namespace {

bool secret_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  for (const char* w : {"TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD"})
    if (name.find(w) != std::string::npos) return true;
  return false;
}

}  // namespace

bool secret_key_name(std::string_view key) {
  std::string k;
  for (char c : key) k += c == '-' ? '_' : char(std::tolower((unsigned char)c));
  for (const char* exact : {"key", "pwd", "pass", "passwd"})
    if (k == exact) return true;
  for (const char* part : {"password", "secret", "token", "apikey", "api_key"})
    if (k.find(part) != std::string::npos) return true;
  return false;
}

bool is_env_reference(std::string_view v) {
  if (v.size() < 4 || v.substr(0, 2) != "${" || v.back() != '}') return false;
  const std::string_view name = v.substr(2, v.size() - 3);
  return !std::isdigit((unsigned char)name[0]) && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum((unsigned char)c) || c == '_';
  });
}

Result<std::string> expand_env(const RawValue& raw, bool secret_field) {
  const std::string& s = raw.text;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "${") != 0) {
      out += s[i++];
      continue;
    }
    size_t close = s.find('}', i);
    if (close == std::string::npos)
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: unterminated '${{' in '{}'", raw.where, s));
    std::string inner = s.substr(i + 2, close - i - 2);
    std::string name = inner, fallback;
    bool has_default = false;
    if (auto d = inner.find(":-"); d != std::string::npos) {
      name = inner.substr(0, d);
      fallback = inner.substr(d + 2);
      has_default = true;
    }
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum((unsigned char)c) || c == '_';
        }))
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: '${{{}}}' is not a valid variable reference", raw.where, inner));
    const char* v = std::getenv(name.c_str());
    std::string value;
    if (v != nullptr && *v != '\0') {
      value = v;
    } else if (has_default) {
      value = fallback;
    } else {
      return fail(ErrorKind::invalid_input,
                  fmt::format("{}: environment variable {} is not set (needed here; set it, or "
                              "write ${{{}:-default}})",
                              raw.where, name, name));
    }
    if (secret_field || secret_name(name)) secrets::register_secret(value);
    out += value;
    i = close + 1;
  }
  if (secret_field) secrets::register_secret(out);
  return out;
}

}  // namespace finsync::config
