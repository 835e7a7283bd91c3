#pragma once
// Validation a sink kind's factory runs on its SinkSpec before anything is opened: keys the kind
// does not take, and typed reads of kind-specific options. Errors are invalid_input and start
// with where the key was written ("plan.yaml:12:5: sink.dsn: ...").
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "sink/sink.hpp"

namespace finsync::sink {

// `kind`, `table` and `mode` are always allowed; every other key the spec sets must be in
// `allowed`, else: "<where>: 'dns' is not an option of postgres sinks (did you mean 'dsn'?);
// expected one of ...".
Result<void> check_keys(const SinkSpec& spec, std::initializer_list<std::string_view> allowed);

// A kind-specific option, or `fallback` when absent.
std::string option_or(const SinkSpec& spec, std::string_view key, std::string fallback);
// A kind-specific option that must be an integer >= min_value.
Result<int64_t> option_int(const SinkSpec& spec, std::string_view key, int64_t fallback,
                           int64_t min_value);
// A kind-specific option that must be one of `choices`.
Result<std::string> option_choice(const SinkSpec& spec, std::string_view key,
                                  std::initializer_list<std::string_view> choices,
                                  std::string fallback);
// A required common field that is empty: "<where or sink.key>: a postgres sink needs a dsn".
Error missing(const SinkSpec& spec, std::string_view key, std::string_view what);

}  // namespace finsync::sink
