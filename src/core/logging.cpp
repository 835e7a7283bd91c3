#include "core/logging.hpp"

#include <cstdio>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "core/json_escape.hpp"
#include "core/secrets.hpp"

namespace finsync::logging {
namespace {

class MaskingStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit MaskingStderrSink(bool json) : json_(json) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text = secrets::mask(std::string_view(msg.payload.data(), msg.payload.size()));
    auto level = spdlog::level::to_string_view(msg.level);
    std::string line;
    if (json_) {
      line = fmt::format(R"({{"time":"{:%Y-%m-%dT%H:%M:%S}Z","level":"{}","msg":"{}"}})",
                         fmt::gmtime(std::chrono::system_clock::to_time_t(msg.time)),
                         std::string_view(level.data(), level.size()), json_escape(text));
    } else {
      line = fmt::format("{:%H:%M:%S} [{}] {}",
                         fmt::localtime(std::chrono::system_clock::to_time_t(msg.time)),
                         std::string_view(level.data(), level.size()), text);
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  bool json_;
};

}  // namespace

Result<void> setup(const std::string& level, const std::string& format) {
  if (format != "text" && format != "json")
    return fail(ErrorKind::invalid_input,
                fmt::format("--log-format: '{}' is not valid; expected text or json", format));
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return fail(ErrorKind::invalid_input,
                fmt::format("--log-level: '{}' is not valid; expected one of trace, debug, info, "
                            "warn, error, off",
                            level));
  auto sink = std::make_shared<MaskingStderrSink>(format == "json");
  auto logger = std::make_shared<spdlog::logger>("finsync", sink);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace finsync::logging
