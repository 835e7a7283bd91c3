#include "app/progress.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "report/run_report.hpp"

namespace finsync::app {

ProgressDisplay::ProgressDisplay(bool tty) : tty_(tty) {}

void ProgressDisplay::update(const engine::Progress& p) {
  const auto now = std::chrono::steady_clock::now();
  if (start_done_ < 0) start_done_ = p.tasks_done;
  const bool complete = p.tasks_done >= p.tasks_total;
  // A terminal redraws at most 10 times a second; a log gets a line every 5 seconds.
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (!complete && now - last_ < every) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rps = secs > 0 ? double(p.requests) / secs : 0;
  const int64_t done_now = p.tasks_done - start_done_;
  const int64_t left = p.tasks_total - p.tasks_done;
  std::string eta = "--";
  if (done_now > 0 && left > 0)
    eta = report::format_duration(secs / double(done_now) * double(left));
  if (left == 0) eta = "0s";
  if (tty_) {
    const int width = 30;
    const int filled = p.tasks_total ? int(width * p.tasks_done / p.tasks_total) : width;
    std::string bar(size_t(filled), '#');
    bar.resize(width, '.');
    std::string line = fmt::format("\r[{}] {}/{} tasks  {} rows  {:.1f} req/s  ETA {}   ", bar,
                                   p.tasks_done, p.tasks_total, p.rows, rps, eta);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  } else {
    spdlog::info("progress: {}/{} tasks, {} rows, {:.1f} requests/s, ETA {}", p.tasks_done,
                 p.tasks_total, p.rows, rps, eta);
  }
}

void ProgressDisplay::waiting(double seconds_left) {
  const auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(500) : std::chrono::milliseconds(60'000);
  if (now - last_wait_ < every) return;
  last_wait_ = now;
  if (tty_) {
    std::string line = fmt::format("\rparked: quota resets in {}            ",
                                   report::format_duration(seconds_left));
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    drawn_ = true;
  } else {
    spdlog::info("parked: quota resets in {}", report::format_duration(seconds_left));
  }
}

void ProgressDisplay::finish() {
  if (tty_ && drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

}  // namespace finsync::app
