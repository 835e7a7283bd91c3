#include "sink/registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace finsync::sink {

std::string_view to_string(WriteMode m) {
  switch (m) {
    case WriteMode::append:
      return "append";
    case WriteMode::replace:
      return "replace";
    case WriteMode::upsert:
      return "upsert";
  }
  return "upsert";
}

void SinkRegistry::add(std::string kind, SinkFactory factory) {
  factories_[std::move(kind)] = std::move(factory);
}

Result<std::unique_ptr<Sink>> SinkRegistry::create(const SinkSpec& spec,
                                                   const SinkContext& ctx) const {
  auto it = factories_.find(spec.kind);
  if (it == factories_.end())
    return fail(ErrorKind::invalid_input,
                fmt::format("sink kind '{}' is unknown; expected one of {}", spec.kind,
                            fmt::join(kinds(), ", ")));
  return it->second(spec, ctx);
}

std::vector<std::string> SinkRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : factories_) out.push_back(k);
  return out;
}

}  // namespace finsync::sink
