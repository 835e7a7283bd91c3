#pragma once
// "Did you mean": the candidate nearest to a misspelt word, for config and sink-spec errors.
#include <string>
#include <string_view>
#include <vector>

namespace finsync {

// The candidate within a small edit distance of `word` (at most max(3, |word|/3)), or "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace finsync
