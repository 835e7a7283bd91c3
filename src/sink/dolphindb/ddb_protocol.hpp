#pragma once
// DolphinDB's API protocol: every request is one message
//
//   API2 <session> <length of command> / <flag>_<cancellable>_<priority>_<parallelism>\n
//   <command><encoded arguments>
//
// where command is `connect\nlogin\n<user>\n<password>` (the first message: opens a session and
// logs in), `script\n<script>`, or `function\n<name>\n<argument count>\n1\n` (1: the arguments
// that follow are little endian). The options are those the official JavaScript client sends
// for an ordinary request: flag 0, cancellable, priority 4, parallelism 64.
//
// Every answer is `<session> <object count> <1 if little endian>\n`, then `OK\n` and the
// objects, or a line with the server's error message instead of OK. Lines `MSG\n<text>\0` (the
// output of print()) may come before the answer.
#include <string>
#include <string_view>

namespace finsync::sink::dolphindb {

inline constexpr std::string_view kOptions = "0_1_4_64";

std::string connect_command(std::string_view user, std::string_view password);
std::string script_command(std::string_view script);
std::string function_command(std::string_view function, size_t args);
// The whole message: header line, command, then the encoded arguments.
std::string frame(std::string_view session, std::string_view command, std::string_view args = {});

struct AnswerHeader {
  std::string session;
  int objects = 0;
  bool little_endian = true;
};
// Parses the answer's first line (without its \n); false when it is not one.
bool parse_answer_header(std::string_view line, AnswerHeader& out);

}  // namespace finsync::sink::dolphindb
