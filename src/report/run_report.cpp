#include "report/run_report.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/secrets.hpp"

namespace finsync::report {
namespace {

std::string iso_time(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(secs), (us / 1000) % 1000);
}

double success_rate(const state::RunRecord& r) {
  const int64_t attempted = r.tasks_succeeded + r.tasks_failed + r.tasks_dead;
  return attempted == 0 ? 1.0 : double(r.tasks_succeeded) / double(attempted);
}

std::string human_bytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

double wall_seconds(const state::RunRecord& run) {
  if (!run.finished_at) return 0;
  return std::chrono::duration<double>(*run.finished_at - run.started_at).count();
}

std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  const int64_t t = int64_t(s);
  if (t < 3600) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}h{:02d}m{:02d}s", t / 3600, (t / 60) % 60, t % 60);
}

std::string to_table(const state::RunRecord& r) {
  const double secs = wall_seconds(r);
  std::string out;
  auto line = [&](std::string_view k, const std::string& v) {
    out += fmt::format("  {:<14} {}\n", k, v);
  };
  out += fmt::format("run {}\n", r.id);
  line("plan", r.plan);
  line("status", r.status);
  line("started", iso_time(r.started_at));
  line("wall time", format_duration(secs));
  line("tasks", fmt::format("{} total: {} succeeded this run, {} already done, {} failed, {} dead, "
                            "{} split",
                            r.tasks_total, r.tasks_succeeded, r.tasks_skipped, r.tasks_failed,
                            r.tasks_dead, r.tasks_split));
  line("success rate", fmt::format("{:.1f}%", 100.0 * success_rate(r)));
  line("rows", fmt::format("{}", r.rows));
  line("bytes", fmt::format("{} ({})", r.bytes, human_bytes(r.bytes)));
  line("requests", fmt::format("{} ({} retries, {} rate-limited answers)", r.requests, r.retries,
                               r.rate_limited));
  if (secs > 0)
    line("throughput", fmt::format("{:.0f} rows/s, {:.1f} requests/s", double(r.rows) / secs,
                                   double(r.requests) / secs));
  if (!r.error.empty()) line("error", secrets::mask(r.error));
  return out;
}

std::string sink_lines(std::string_view kind, const sink::SinkStats& s) {
  std::string out;
  if (s.files_written > 0)
    out += fmt::format("  {:<14} {} files rewritten for {} partitions\n", "files", s.files_written,
                       s.partitions_materialized);
  if (s.commits > 0 || s.reconnects > 0 || s.retries > 0)
    out += fmt::format("  {:<14} {}: {} commits, {} reconnects, {} transactions retried\n", "sink",
                       kind, s.commits, s.reconnects, s.retries);
  if (s.columns_added > 0)
    out += fmt::format("  {:<14} {} columns added (schema_drift: evolve)\n", "schema",
                       s.columns_added);
  return out;
}

namespace {

nlohmann::ordered_json run_json(const state::RunRecord& r) {
  nlohmann::ordered_json j = {
      {"id", r.id},
      {"plan", r.plan},
      {"kind", r.kind},
      {"status", r.status},
      {"started_at", iso_time(r.started_at)},
      {"finished_at",
       r.finished_at ? nlohmann::ordered_json(iso_time(*r.finished_at)) : nlohmann::ordered_json()},
      {"wall_seconds", wall_seconds(r)},
      {"tasks",
       {{"total", r.tasks_total},
        {"succeeded", r.tasks_succeeded},
        {"skipped", r.tasks_skipped},
        {"failed", r.tasks_failed},
        {"dead", r.tasks_dead},
        {"split", r.tasks_split}}},
      {"success_rate", success_rate(r)},
      {"rows", r.rows},
      {"bytes", r.bytes},
      {"requests", r.requests},
      {"retries", r.retries},
      {"rate_limited", r.rate_limited},
      {"error",
       r.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(secrets::mask(r.error))},
  };
  return j;
}

}  // namespace

std::string to_json(const state::RunRecord& r) {
  return run_json(r).dump(2);
}

}  // namespace finsync::report
