#include "sink/registry.hpp"

#include "core/closest_match.hpp"

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
  if (it == factories_.end()) {
    std::string hint = closest_match(spec.kind, kinds());
    return fail(ErrorKind::invalid_input,
                fmt::format("{}: value '{}' is not valid: expected one of {}{}",
                            spec.located("kind"), spec.kind, fmt::join(kinds(), ", "),
                            hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  return it->second(spec, ctx);
}

std::vector<std::string> SinkRegistry::kinds() const {
  std::vector<std::string> out;
  for (const auto& [k, _] : factories_) out.push_back(k);
  return out;
}

}  // namespace finsync::sink
