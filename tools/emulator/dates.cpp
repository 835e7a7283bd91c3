#include "dates.hpp"

namespace emu {

bool parse_ymd(std::string_view text, int& out) noexcept {
  if (text.size() != 8) return false;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

namespace {
void append_digits(std::string& out, int value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}
}  // namespace

void append_ymd(std::string& out, int ymd) {
  append_digits(out, ymd, 8);
}

void append_ymd_dashed(std::string& out, int ymd) {
  append_digits(out, ymd / 10000, 4);
  out.push_back('-');
  append_digits(out, ymd / 100 % 100, 2);
  out.push_back('-');
  append_digits(out, ymd % 100, 2);
}

}  // namespace emu
