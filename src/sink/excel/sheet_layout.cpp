#include "sink/excel/sheet_layout.hpp"

#include <fmt/format.h>

#include <cctype>
#include <vector>

namespace finsync::sink::excel {

namespace {

constexpr std::string_view kForbidden = "[]:*?/\\";

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// The characters of `s`, each with its width in UTF-16 units; invalid bytes become '_'.
std::vector<std::pair<std::string, size_t>> characters(std::string_view s) {
  std::vector<std::pair<std::string, size_t>> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_length(s, i);
    if (n == 0) {
      out.emplace_back("_", 1);
      ++i;
      continue;
    }
    if (n == 1 && kForbidden.find(s[i]) != std::string_view::npos)
      out.emplace_back(std::string(1, '_'), 1);
    else
      out.emplace_back(std::string(s.data() + i, n), n == 4 ? 2 : 1);
    i += n;
  }
  return out;
}

std::string cut(std::vector<std::pair<std::string, size_t>> chars, size_t units) {
  std::string out;
  size_t used = 0;
  for (const auto& [ch, w] : chars) {
    if (used + w > units) break;
    out += ch;
    used += w;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t units(std::string_view s) {
  size_t n = 0;
  for (const auto& c : characters(s)) n += c.second;
  return n;
}

}  // namespace

std::string sanitize_sheet_name(std::string_view raw) {
  auto chars = characters(raw);
  while (!chars.empty() && chars.front().first == "'") chars.erase(chars.begin());
  while (!chars.empty() && chars.back().first == "'") chars.pop_back();
  std::string out = cut(chars, kMaxSheetName);
  // Cutting can leave an apostrophe at the end.
  while (!out.empty() && out.back() == '\'') out.pop_back();
  if (out.empty()) return "_";
  if (lower(out) == "history") out.push_back('_');
  return out;
}

std::string SheetNames::unique(std::string_view raw) {
  const std::string base = sanitize_sheet_name(raw);
  if (taken_.insert(lower(base)).second) return base;
  for (int n = 2;; ++n) {
    const std::string suffix = fmt::format(" ({})", n);
    std::string stem = cut(characters(base), kMaxSheetName - units(suffix));
    while (!stem.empty() && stem.back() == '\'') stem.pop_back();
    stem.append(suffix);
    if (taken_.insert(lower(stem)).second) return stem;
  }
}

std::optional<std::string> SheetSplit::next(std::string_view group) {
  if (sheets_ > 0 && group == group_ && row_ < limit_) {
    ++row_;
    return std::nullopt;
  }
  group_ = std::string(group);
  row_ = 1;
  ++sheets_;
  return names_.unique(group);
}

}  // namespace finsync::sink::excel
