#pragma once
// FNV-1a, 64 bits: a digest that stays the same across builds and machines (std::hash does not),
// for ids that are stored: landing keys, page markers, symbol-list task ids.
#include <cstdint>
#include <string_view>

namespace finsync {

struct Fnv1a {
  uint64_t h = 1469598103934665603ULL;
  Fnv1a& add(unsigned char c) {
    h = (h ^ c) * 1099511628211ULL;
    return *this;
  }
  Fnv1a& add(std::string_view s) {
    for (unsigned char c : s) add(c);
    return *this;
  }
};

inline uint64_t fnv1a(std::string_view s) {
  return Fnv1a().add(s).h;
}

}  // namespace finsync
