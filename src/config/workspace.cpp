#include "config/workspace.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "config/yaml_reader.hpp"

namespace finsync::config {
namespace fs = std::filesystem;

namespace {

std::string under(const std::string& root, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : fs::path(root) / path).lexically_normal().string();
}

std::string where_of(const Loc& loc, const YAML::Node& n) {
  return fmt::format("{}:{}:{}: {}", loc.file, n.Mark().line + 1, n.Mark().column + 1, loc.path);
}

// PostgreSQL identifiers that need no quoting (and so read the same in psql), up to 63 bytes.
bool plain_identifier(const std::string& s) {
  if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The value is never echoed: a dsn may hold a password.
bool plausible_dsn(const std::string& s) {
  return s.find("${") != std::string::npos || s.rfind("postgresql://", 0) == 0 ||
         s.rfind("postgres://", 0) == 0 || s.find('=') != std::string::npos;
}

void read_state(const MapReader& s, WorkspaceDef& w, std::string& path) {
  s.allow_only({"kind", "path", "dsn", "password", "schema", "lease"});
  w.state_kind = s.choice("kind", {"sqlite", "postgres"}, "sqlite");
  w.lease_duration = s.duration_or("lease", w.lease_duration);
  if (w.lease_duration < std::chrono::seconds(1))
    raise(s.loc_of("lease"), s.get("lease").Mark(),
          fmt::format("value '{}' is not valid: expected a duration of at least 1s (a lease is "
                      "renewed every third of it)",
                      s.str("lease")));
  const bool pg = w.state_kind == "postgres";
  for (std::string_view key : {"dsn", "password", "schema"}) {
    if (!pg && s.has(key))
      raise(s.loc_of(key), s.get(key).Mark(), "only valid with kind: postgres");
  }
  if (!pg) {
    path = s.str_or("path", path);
    return;
  }
  if (s.has("path"))
    raise(s.loc_of("path"), s.get("path").Mark(),
          "only valid with kind: sqlite (a postgres store lives in `schema` of the database "
          "named by `dsn`)");
  auto& d = w.state_postgres;
  d.dsn = RawValue{s.str("dsn"), where_of(s.loc_of("dsn"), s.get("dsn"))};
  if (!plausible_dsn(d.dsn.text))
    raise(s.loc_of("dsn"), s.get("dsn").Mark(),
          "expected a postgresql:// URI or a libpq keyword=value string");
  if (s.has("password"))
    d.password = RawValue{s.str("password"), where_of(s.loc_of("password"), s.get("password"))};
  d.schema = s.str_or("schema", d.schema);
  if (!plain_identifier(d.schema))
    raise(s.loc_of("schema"), s.get("schema").Mark(),
          fmt::format("value '{}' is not valid: expected lower-case letters, digits and _, not "
                      "starting with a digit, at most 63 characters",
                      d.schema));
}

}  // namespace

Result<WorkspaceDef> load_workspace(const std::string& root_in) {
  WorkspaceDef w;
  w.root = fs::absolute(root_in).lexically_normal().string();
  if (w.root.size() > 1 && w.root.back() == '/') w.root.pop_back();
  std::string data = "data", state = ".finsync/state.db", providers = "providers", plans = "plans";
  const std::string file = w.root + "/finsync.yaml";
  try {
    if (fs::exists(file)) {
      w.file = file;
      YAML::Node root = parse_yaml(read_file(file), file);
      MapReader r(Loc{file, ""}, root);
      r.allow_only(
          {"data_dir", "state", "providers_dir", "plans_dir", "defaults", "http", "accounts"});
      data = r.str_or("data_dir", data);
      providers = r.str_or("providers_dir", providers);
      plans = r.str_or("plans_dir", plans);
      if (r.has("state")) read_state(MapReader(r.loc_of("state"), r.get("state")), w, state);
      if (r.has("defaults")) {
        MapReader d(r.loc_of("defaults"), r.get("defaults"));
        d.allow_only({"concurrency", "max_attempts", "backoff_initial", "backoff_max"});
        w.concurrency = static_cast<int>(d.integer_or("concurrency", w.concurrency, 1));
        w.max_attempts = static_cast<int>(d.integer_or("max_attempts", w.max_attempts, 1));
        w.backoff_initial = d.duration_or("backoff_initial", w.backoff_initial);
        w.backoff_max = d.duration_or("backoff_max", w.backoff_max);
      }
      if (r.has("http")) {
        MapReader h(r.loc_of("http"), r.get("http"));
        h.allow_only({"connect_timeout", "timeout", "low_speed_time", "ca_file", "verify_tls"});
        w.http.connect_timeout = h.duration_or("connect_timeout", w.http.connect_timeout);
        w.http.timeout = h.duration_or("timeout", w.http.timeout);
        w.http.low_speed_time = h.duration_or("low_speed_time", w.http.low_speed_time);
        if (h.has("ca_file"))
          w.http.ca_file =
              RawValue{h.str("ca_file"),
                       fmt::format("{}:{}:{}: http.ca_file", file, h.get("ca_file").Mark().line + 1,
                                   h.get("ca_file").Mark().column + 1)};
        w.http.verify_tls = h.boolean_or("verify_tls", true);
      }
      if (r.has("accounts")) {
        MapReader a(r.loc_of("accounts"), r.get("accounts"));
        for (const auto& provider : a.keys()) {
          MapReader p(a.loc_of(provider), a.get(provider));
          p.allow_only({"account", "rate_limits", "max_in_flight"});
          AccountDef def;
          def.label = p.str_or("account", def.label);
          if (p.has("rate_limits")) def.rate_limits = parse_rate_limits(p, "rate_limits");
          def.max_in_flight = static_cast<int>(p.integer_or("max_in_flight", 0, 1));
          w.accounts.emplace(provider, std::move(def));
        }
      }
    }
  } catch (const ConfigError& e) {
    return fail(ErrorKind::invalid_input, e.message);
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::invalid_input, fmt::format("{}: {}", file, e.what()));
  }
  w.data_dir = under(w.root, data);
  w.state_path = under(w.root, state);
  w.providers_dir = under(w.root, providers);
  w.plans_dir = under(w.root, plans);
  // A relative ca_file is relative to the workspace, like every other path in finsync.yaml.
  if (!w.http.ca_file.text.empty() && w.http.ca_file.text.find("${") == std::string::npos)
    w.http.ca_file.text = under(w.root, w.http.ca_file.text);
  return w;
}

}  // namespace finsync::config
