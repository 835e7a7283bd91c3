#include "sink/dolphindb/ddb_protocol.hpp"

#include <charconv>

#include <fmt/format.h>

namespace finsync::sink::dolphindb {

std::string connect_command(std::string_view user, std::string_view password) {
  return fmt::format("connect\nlogin\n{}\n{}", user, password);
}

std::string script_command(std::string_view script) {
  return fmt::format("script\n{}", script);
}

std::string function_command(std::string_view function, size_t args) {
  return fmt::format("function\n{}\n{}\n1\n", function, args);
}

std::string frame(std::string_view session, std::string_view command, std::string_view args) {
  std::string out = fmt::format("API2 {} {} / {}\n", session, command.size(), kOptions);
  out.append(command);
  out.append(args);
  return out;
}

bool parse_answer_header(std::string_view line, AnswerHeader& out) {
  const size_t a = line.find(' ');
  if (a == std::string_view::npos || a == 0) return false;
  const size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  const std::string_view count = line.substr(a + 1, b - a - 1);
  const std::string_view endian = line.substr(b + 1);
  int n = 0;
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
  if (ec != std::errc() || end != count.data() + count.size() || n < 0) return false;
  if (endian != "0" && endian != "1") return false;
  out.session = std::string(line.substr(0, a));
  out.objects = n;
  out.little_endian = endian == "1";
  return true;
}

}  // namespace finsync::sink::dolphindb
