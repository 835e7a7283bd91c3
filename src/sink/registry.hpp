#pragma once
#include <map>

#include "sink/sink.hpp"

namespace finsync::sink {

class SinkRegistry {
 public:
  void add(std::string kind, SinkFactory factory);
  Result<std::unique_ptr<Sink>> create(const SinkSpec& spec, const SinkContext& ctx) const;
  std::vector<std::string> kinds() const;

 private:
  std::map<std::string, SinkFactory> factories_;
};

// Every built-in sink, registered in one place.
void register_builtin_sinks(SinkRegistry& registry);

}  // namespace finsync::sink
