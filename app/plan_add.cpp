// `finsync plan add FILE` and `finsync plan add --name ... --sink SPEC`: either way a plan file
// lands in plans_dir only after the same checks against the catalog.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "config/plan_writer.hpp"
#include "config/yaml_reader.hpp"

namespace finsync::app {
namespace fs = std::filesystem;

namespace {

// The source name plans built from flags are parsed under; errors that carry it are mapped back
// to the flag that set the key.
constexpr std::string_view kFlags = "<flags>";

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

int write_plan(const Context& ctx, const config::PlanDef& plan, const std::string& text,
               const std::string& from_file) {
  const fs::path target = fs::path(ctx.workspace.plans_dir) / (plan.name + ".yaml");
  std::error_code ec;
  if (fs::exists(target, ec) && (from_file.empty() || !fs::equivalent(target, from_file, ec))) {
    spdlog::error("{} already exists: a plan named '{}' is defined; remove it first",
                  target.string(), plan.name);
    return kConfig;
  }
  fs::create_directories(target.parent_path(), ec);
  std::ofstream out(target);
  out << text;
  out.close();
  if (!out) {
    spdlog::error("cannot write {}", target.string());
    return kInternal;
  }
  std::printf("plan %s added as %s; `finsync run %s` starts it\n", plan.name.c_str(),
              target.c_str(), plan.name.c_str());
  return kDone;
}

// The flag that sets the first component of a plan key path.
std::string flag_for(const std::string& path, const PlanAddArgs& a) {
  const std::string top = path.substr(0, path.find_first_of(".["));
  if (top == "name" || top == "provider" || top == "endpoint" || top == "sink") return "--" + top;
  if (top == "params") return "--param";
  if (path == "range.start") return "--from";
  if (top == "range") return "--to";
  if (path == "universe.from" || !a.symbols_from.empty()) return "--symbols-from";
  if (!a.symbols_file.empty()) return "--symbols-file";
  if (!a.symbols.empty()) return "--symbols";
  return "--symbols, --symbols-from or --symbols-file";
}

// "<flags>:5:12: range.end: value ..." -> "--to (range.end): value ...".
std::string flag_error(const std::string& msg, const PlanAddArgs& a) {
  std::string_view rest(msg);
  if (rest.substr(0, kFlags.size()) != kFlags)
    return fmt::format("the plan built from the flags is not valid: {}", msg);
  rest.remove_prefix(kFlags.size());
  while (!rest.empty() && (rest[0] == ':' || std::isdigit((unsigned char)rest[0])))
    rest.remove_prefix(1);
  rest = rest.substr(rest.find_first_not_of(' '));
  const size_t colon = rest.find(": ");
  const std::string path(rest.substr(0, colon));
  const bool is_path = colon != std::string_view::npos && !path.empty() &&
                       std::all_of(path.begin(), path.end(), [](char c) {
                         return std::islower((unsigned char)c) || std::isdigit((unsigned char)c) ||
                                c == '_' || c == '.' || c == '[' || c == ']';
                       });
  if (!is_path) return fmt::format("the plan built from the flags is not valid: {}", rest);
  return fmt::format("{} ({}): {}", flag_for(path, a), path, rest.substr(colon + 2));
}

// Symbols from --symbols (comma-separated) or --symbols-file (one a line or comma-separated;
// '#' starts a comment).
Result<std::vector<std::string>> symbol_list(const PlanAddArgs& a) {
  std::string text = a.symbols;
  const std::string flag = a.symbols_file.empty() ? "--symbols" : "--symbols-file";
  if (!a.symbols_file.empty()) {
    std::ifstream in(a.symbols_file);
    if (!in)
      return fail(ErrorKind::invalid_input,
                  fmt::format("--symbols-file '{}': cannot read the file", a.symbols_file));
    text.clear();
    for (std::string line; std::getline(in, line);) text += line.substr(0, line.find('#')) + ",";
  }
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string s = trim(std::string_view(text).substr(start, end - start));
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    start = end + 1;
  }
  if (out.empty())
    return fail(ErrorKind::invalid_input,
                fmt::format("{} '{}' names no symbol: expected symbols separated by commas{}", flag,
                            a.symbols_file.empty() ? a.symbols : a.symbols_file,
                            a.symbols_file.empty() ? "" : " or one a line"));
  return out;
}

// What CLI11 cannot check: exactly one form, the flags the flag form needs, one universe flag,
// NAME=VALUE params. Exit 64.
bool usage_ok(const PlanAddArgs& a) {
  const bool flags = a.any_flag();
  if (!a.file.empty() && flags) {
    spdlog::error("plan add: give a plan FILE or the flags (--name, --provider, ...), not both");
    return false;
  }
  if (a.file.empty() && !flags) {
    spdlog::error(
        "plan add: expected a plan FILE, or --name, --provider, --endpoint, --from, --to and "
        "--sink (see finsync plan add --help)");
    return false;
  }
  if (!flags) return true;
  std::vector<std::string> missing;
  for (const auto& [flag, value] : {std::pair{"--name", &a.name},
                                    {"--provider", &a.provider},
                                    {"--endpoint", &a.endpoint},
                                    {"--from", &a.from},
                                    {"--to", &a.to},
                                    {"--sink", &a.sink}})
    if (value->empty()) missing.emplace_back(flag);
  if (!missing.empty()) {
    spdlog::error(
        "plan add: {} missing: the flag form needs --name, --provider, --endpoint, "
        "--from, --to and --sink",
        fmt::join(missing, ", "));
    return false;
  }
  std::vector<std::string> universe;
  if (!a.symbols.empty()) universe.emplace_back("--symbols");
  if (!a.symbols_from.empty()) universe.emplace_back("--symbols-from");
  if (!a.symbols_file.empty()) universe.emplace_back("--symbols-file");
  if (universe.size() > 1) {
    spdlog::error(
        "plan add: {} are {} given: expected at most one of --symbols, --symbols-from, "
        "--symbols-file",
        fmt::join(universe, " and "), universe.size() == 2 ? "both" : "all");
    return false;
  }
  std::vector<std::string> seen;
  for (const auto& p : a.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      spdlog::error("plan add: --param '{}' is not valid: expected NAME=VALUE", p);
      return false;
    }
    const std::string name = p.substr(0, eq);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      spdlog::error("plan add: --param {} is given twice", name);
      return false;
    }
    seen.push_back(name);
  }
  return true;
}

int add_from_flags(const GlobalOptions& g, const PlanAddArgs& a) {
  Context ctx;
  if (int rc = load_context(g, ctx); rc != kDone) return rc;
  const config::ProviderDef* provider = ctx.catalog.find(a.provider);
  config::PlanDraft d;
  d.name = a.name;
  d.provider = a.provider;
  d.endpoint = a.endpoint;
  d.start = a.from;
  d.end = a.to;
  for (const auto& p : a.params) {
    const size_t eq = p.find('=');
    std::string name = p.substr(0, eq), value = p.substr(eq + 1);
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    std::string auth_field = provider ? provider->auth.field : "";
    std::transform(auth_field.begin(), auth_field.end(), auth_field.begin(), ::tolower);
    const bool credential =
        config::secret_key_name(name) || (!auth_field.empty() && lower == auth_field);
    if (credential && !config::is_env_reference(value)) {
      spdlog::error(
          "plan add --param '{}' holds a credential, and a literal one is not accepted on the "
          "command line: give it the value ${{VAR}}, the environment variable that holds it (in "
          "single quotes, so that the shell leaves it to finsync){}",
          name,
          provider && lower == auth_field ? fmt::format("; provider {} sends it anyway, from {}",
                                                        provider->name, provider->auth.value.text)
                                          : "");
      return kConfig;
    }
    d.params.emplace_back(std::move(name), std::move(value));
  }
  auto sink = config::parse_sink_spec(a.sink);
  if (!sink) {
    spdlog::error("plan add --sink '{}': {}", a.sink, sink.error().message);
    return kConfig;
  }
  d.sink = std::move(*sink);
  d.symbols_from = a.symbols_from;
  if (!a.symbols.empty() || !a.symbols_file.empty()) {
    auto symbols = symbol_list(a);
    if (!symbols) {
      spdlog::error("plan add {}", symbols.error().message);
      return kConfig;
    }
    d.symbols = std::move(*symbols);
  }
  // The same checks as a plan file gets, on the text that will be written.
  const std::string text = config::plan_yaml(d);
  auto plan = config::parse_plan(text, std::string(kFlags));
  Result<void> ok = plan ? check_plan(ctx, *plan) : Result<void>(fail(plan.error()));
  if (!ok) {
    spdlog::error("plan add {}", flag_error(ok.error().message, a));
    return kConfig;
  }
  return write_plan(ctx, *plan, text, "");
}

}  // namespace

bool PlanAddArgs::any_flag() const {
  return !name.empty() || !provider.empty() || !endpoint.empty() || !params.empty() ||
         !symbols.empty() || !symbols_from.empty() || !symbols_file.empty() || !from.empty() ||
         !to.empty() || !sink.empty();
}

int cmd_plan_add(const GlobalOptions& g, const PlanAddArgs& args) {
  if (!usage_ok(args)) return kUsage;
  if (args.any_flag()) return add_from_flags(g, args);
  Context ctx;
  std::optional<config::PlanDef> plan;
  if (int rc = load_checked_plan(g, args.file, ctx, plan); rc != kDone) return rc;
  return write_plan(ctx, *plan, plan->text, args.file);
}

}  // namespace finsync::app
