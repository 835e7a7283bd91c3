#pragma once
#include <string>
#include <string_view>

namespace finsync {

// Percent-encodes every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~): URL query
// values, and partition values that become directory names.
std::string percent_encode(std::string_view s);

}  // namespace finsync
