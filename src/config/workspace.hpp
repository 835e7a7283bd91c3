#pragma once
// The workspace file finsync.yaml: where state and data live, and defaults. Paths in it are
// relative to the directory that holds it.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/env.hpp"
#include "config/rate_limits.hpp"
#include "core/error.hpp"

namespace finsync::config {

struct HttpDef {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds low_speed_time{30'000};
  RawValue ca_file;
  bool verify_tls = true;
};

// The account a workspace uses at one provider: its label (plans on the same provider and label
// share one quota) and, when its tier differs from the provider file, its own windows.
struct AccountDef {
  std::string label = "default";
  std::vector<RateLimitDef> rate_limits;  // empty: the provider's
  int max_in_flight = 0;                  // 0: the provider's
};

// state: { kind: postgres, dsn: ..., password: ..., schema: ... }. The dsn and password are
// expanded (${VAR}) only when the store is opened.
struct PostgresStateDef {
  RawValue dsn;       // libpq URI (postgresql://...) or keyword=value string
  RawValue password;  // optional; overrides a password in the dsn
  std::string schema = "finsync";
};

struct WorkspaceDef {
  std::string root;                   // absolute directory of finsync.yaml
  std::string file;                   // finsync.yaml path ("" when absent: all defaults)
  std::string data_dir;               // absolute
  std::string state_kind = "sqlite";  // sqlite | postgres
  std::string state_path;             // absolute SQLite file (kind sqlite)
  PostgresStateDef state_postgres;    // kind postgres
  // state.lease: how long a task stays a process's without renewal, i.e. how soon another
  // process takes over the tasks of one that died.
  std::chrono::milliseconds lease_duration{30'000};
  std::string providers_dir;  // absolute; user provider files override built-ins
  std::string plans_dir;      // absolute
  int concurrency = 4;
  int max_attempts = 5;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30'000};
  HttpDef http;
  std::map<std::string, AccountDef> accounts;  // by provider name

  std::string staging_path() const { return data_dir + "/finsync.duckdb"; }
};

// Reads <root>/finsync.yaml if present, else defaults rooted at `root`.
Result<WorkspaceDef> load_workspace(const std::string& root);

}  // namespace finsync::config
