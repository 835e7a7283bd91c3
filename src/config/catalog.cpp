#include "config/catalog.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "config/yaml_reader.hpp"

namespace finsync::config {
namespace fs = std::filesystem;

const ProviderDef* Catalog::find(std::string_view name) const {
  auto it = providers.find(std::string(name));
  return it == providers.end() ? nullptr : &it->second;
}

Result<Catalog> load_catalog(const std::string& user_dir) {
  Catalog c;
  for (const auto& f : builtin_providers_files()) {
    auto p = parse_provider(f.text, f.name);
    if (!p) return fail(p.error());
    c.providers[p->name] = std::move(*p);
  }
  std::error_code ec;
  if (user_dir.empty() || !fs::is_directory(user_dir, ec)) return c;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(user_dir, ec)) {
    auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::string text;
    try {
      text = read_file(path.string());
    } catch (const ConfigError& e) {
      return fail(ErrorKind::invalid_input, e.message);
    }
    auto p = parse_provider(text, path.string());
    if (!p) return fail(p.error());
    if (c.providers.count(p->name) && c.providers[p->name].source.rfind("providers/", 0) == 0)
      c.overridden.push_back(p->name);
    c.providers[p->name] = std::move(*p);
  }
  return c;
}

}  // namespace finsync::config
