#pragma once
// Every provider definition a command can use: the built-ins compiled into the binary
// (providers/*.yaml), overridden file by file by the user's providers directory.
#include <map>
#include <string>
#include <vector>

#include "config/provider_def.hpp"

namespace finsync::config {

struct Catalog {
  std::map<std::string, ProviderDef> providers;
  std::vector<std::string> overridden;  // built-ins replaced by a user file

  const ProviderDef* find(std::string_view name) const;
};

struct BuiltinFile {
  const char* name;  // e.g. providers/tushare.yaml
  const char* text;
};
const std::vector<BuiltinFile>& builtin_providers_files();
const std::vector<BuiltinFile>& builtin_examples_files();  // examples/*.yaml, for `init`

Result<Catalog> load_catalog(const std::string& user_dir);

}  // namespace finsync::config
