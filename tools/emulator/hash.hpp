// Deterministic hashing: every generated value is a pure function of its inputs.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace emu {

// SplitMix64 finalizer: a fast, well-mixed 64-bit bijection.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Hash of an ordered list of integers.
constexpr std::uint64_t hash_of(std::initializer_list<std::uint64_t> parts) noexcept {
  std::uint64_t h = 0x6a09e667f3bcc909ULL;
  for (std::uint64_t p : parts) h = mix64(h ^ p);
  return h;
}

// Uniform double in [0, 1) from the top 53 bits of a hash.
constexpr double unit_of(std::uint64_t h) noexcept {
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

}  // namespace emu
