#include "config/sink_spec.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/env.hpp"
#include "config/yaml_reader.hpp"
#include "core/secrets.hpp"

namespace finsync::config {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

tl::unexpected<Error> literal_secret(std::string_view key, std::string_view value) {
  // The caller may print the SPEC it was given: from now on it prints masked.
  secrets::register_secret(value);
  // Worded so that the log's masking of "key=value" shapes leaves the advice readable.
  return fail(ErrorKind::invalid_input,
              fmt::format("'{}' holds a credential, and a literal one is not accepted on the "
                          "command line: give it the value ${{VAR}}, the environment variable "
                          "that holds it (in single quotes, so that the shell leaves it to "
                          "finsync)",
                          key));
}

class Parser {
 public:
  explicit Parser(const std::vector<SinkKey>& keys) : keys_(keys) {}

  const SinkKey* key(std::string_view name) const {
    auto it =
        std::find_if(keys_.begin(), keys_.end(), [&](const auto& k) { return k.name == name; });
    return it == keys_.end() ? nullptr : &*it;
  }

  // One KEY=VALUE of the SPEC for a sink key.
  Result<void> option(std::string_view text) {
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
      return fail(ErrorKind::invalid_input,
                  fmt::format("option '{}' is not valid: expected KEY=VALUE", text));
    const std::string_view name = text.substr(0, eq), value = text.substr(eq + 1);
    if (secret_key_name(name) && !is_env_reference(value)) return literal_secret(name, value);
    const SinkKey* k = key(name);
    if (k == nullptr || name == "kind") {
      std::vector<std::string> names;
      for (const auto& n : keys_)
        if (n.name != "kind") names.emplace_back(n.name);
      // `kind` is a key, only not an option: no look-alike to suggest.
      const std::string hint = name == "kind" ? "" : closest_match(name, names);
      return fail(ErrorKind::invalid_input,
                  fmt::format("option '{}' is not a sink key{}: expected one of {}", name,
                              hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                              fmt::join(names, ", ")));
    }
    return add(*k, value);
  }

  Result<void> add(const SinkKey& k, std::string_view value) {
    if (secret_key_name(k.name) && !is_env_reference(value)) return literal_secret(k.name, value);
    if (std::any_of(out_.begin(), out_.end(), [&](const auto& e) { return e.key == k.name; }))
      return fail(ErrorKind::invalid_input, fmt::format("'{}' is given twice", k.name));
    SinkEntry e{std::string(k.name), {}, k.list};
    if (k.list) {
      for (auto item : split(value, '+')) {
        if (item.empty())
          return fail(ErrorKind::invalid_input,
                      fmt::format("'{}={}' is not valid: expected items separated by '+', e.g. "
                                  "{}=a+b",
                                  k.name, value, k.name));
        e.values.emplace_back(item);
      }
    } else {
      e.values.emplace_back(value);
    }
    out_.push_back(std::move(e));
    return {};
  }

  // KIND:SCHEME://... : the URL is the dsn; sink keys among its query parameters are taken out.
  Result<void> url(std::string_view location) {
    const size_t q = location.find('?');
    const std::string_view base = location.substr(0, q);
    const size_t host = base.find("://") + 3;
    const std::string_view authority = base.substr(host, base.find('/', host) - host);
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
      const std::string_view userinfo = authority.substr(0, at);
      if (const size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
        const std::string_view password = userinfo.substr(colon + 1);
        if (!is_env_reference(password)) {
          secrets::register_secret(password);
          return fail(ErrorKind::invalid_input,
                      "a password in the URL is not accepted on the command line: leave it out "
                      "of the URL and give the query parameter 'password' the value ${VAR}, the "
                      "environment variable that holds it (in single quotes, so that the shell "
                      "leaves it to finsync)");
        }
      }
    }
    std::vector<std::string_view> kept;
    std::vector<std::string_view> taken;
    if (q != std::string_view::npos) {
      for (auto param : split(location.substr(q + 1), '&')) {
        const size_t eq = param.find('=');
        if (param.empty() || eq == 0 || eq == std::string_view::npos)
          return fail(ErrorKind::invalid_input,
                      fmt::format("query parameter '{}' is not valid: expected KEY=VALUE", param));
        const std::string_view name = param.substr(0, eq), value = param.substr(eq + 1);
        if (secret_key_name(name) && !is_env_reference(value)) return literal_secret(name, value);
        const bool sink_key = key(name) != nullptr && name != "kind" && name != "dsn";
        (sink_key ? taken : kept).push_back(param);
      }
    }
    const SinkKey* dsn = key("dsn");
    if (dsn == nullptr)
      return fail(ErrorKind::invalid_input,
                  "a URL location fills sink.dsn, and no sink of this finsync takes one: "
                  "expected KIND:PATH");
    std::string text(base);
    if (!kept.empty()) text += fmt::format("?{}", fmt::join(kept, "&"));
    if (auto r = add(*dsn, text); !r) return r;
    for (auto param : taken)
      if (auto r = option(param); !r) return r;
    return {};
  }

  Result<std::vector<SinkEntry>> parse(std::string_view spec) {
    const size_t end = spec.find_first_of(":,");
    const std::string_view kind = spec.substr(0, end);
    const bool kind_ok =
        !kind.empty() && std::isalpha((unsigned char)kind[0]) &&
        std::all_of(kind.begin(), kind.end(), [](char c) {
          return std::islower((unsigned char)c) || std::isdigit((unsigned char)c) || c == '_';
        });
    if (!kind_ok)
      return fail(ErrorKind::invalid_input,
                  fmt::format("sink kind '{}' is not valid: expected KIND:PATH or KIND:URL with a "
                              "lower-case kind, e.g. parquet:./data, duckdb:./finsync.duckdb, "
                              "postgres:postgresql://user@host:5432/db?table=bars",
                              kind));
    out_.push_back({"kind", {std::string(kind)}, false});
    if (end == std::string_view::npos) return std::move(out_);
    std::string_view rest = spec.substr(end + 1);
    if (spec[end] == ':') {
      if (rest.find("://") != std::string_view::npos) {
        if (auto r = url(rest); !r) return tl::unexpected(r.error());
        return std::move(out_);
      }
      const size_t comma = rest.find(',');
      const std::string_view path = rest.substr(0, comma);
      if (!path.empty()) {
        const SinkKey* k = key("path");
        if (k == nullptr)
          return fail(ErrorKind::invalid_input, "no sink of this finsync takes a path");
        if (auto r = add(*k, path); !r) return tl::unexpected(r.error());
      }
      if (comma == std::string_view::npos) return std::move(out_);
      rest = rest.substr(comma + 1);
    }
    for (auto opt : split(rest, ','))
      if (auto r = option(opt); !r) return tl::unexpected(r.error());
    return std::move(out_);
  }

 private:
  const std::vector<SinkKey>& keys_;
  std::vector<SinkEntry> out_;
};

}  // namespace

Result<std::vector<SinkEntry>> parse_sink_spec(std::string_view spec,
                                               const std::vector<SinkKey>& keys) {
  return Parser(keys).parse(spec);
}

}  // namespace finsync::config
