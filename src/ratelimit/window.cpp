#include "ratelimit/window.hpp"

#include <charconv>

#include <date/tz.h>
#include <fmt/format.h>

namespace finsync::ratelimit {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string format_duration(Clock_t::duration d) {
  auto ms = duration_cast<milliseconds>(d).count();
  if (ms == 0) return "0s";
  std::string out;
  constexpr std::pair<int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  for (auto [size, suffix] : units) {
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, suffix);
      ms %= size;
    }
  }
  return out;
}

std::string WindowSpec::name() const {
  std::string s;
  if (!account.empty()) s += account + " ";
  if (!endpoint.empty()) s += endpoint + " ";
  s += fmt::format("{}/{}", limit, format_duration(per));
  if (align == Align::epoch) s += "@epoch";
  if (align == Align::clock)
    s += fmt::format("@{:02}:{:02} {}", reset_offset.count() / 60, reset_offset.count() % 60, zone);
  return s;
}

std::pair<TimePoint, TimePoint> period_of(const WindowSpec& w, TimePoint t) {
  const auto per = w.per;
  switch (w.align) {
    case Align::sliding:
      return {t - per, t + per};
    case Align::epoch: {
      const auto n = t.time_since_epoch() / per;
      const TimePoint start(per * n);
      return {start, start + per};
    }
    case Align::clock: {
      // Periods start at the reset time of each local day and every `per` after it (per divides
      // a day, checked by the config). A DST gap or overlap takes the earliest instant.
      const date::time_zone* zone = date::locate_zone(w.zone);
      const auto local = zone->to_local(t);
      const auto day = date::floor<date::days>(local);
      auto start_local = day + w.reset_offset;
      if (start_local > local) start_local -= date::days(1);
      const auto steps = (local - start_local) / per;
      start_local += duration_cast<decltype(start_local)::duration>(per * steps);
      const TimePoint start = zone->to_sys(start_local, date::choose::earliest);
      const TimePoint end =
          zone->to_sys(start_local + duration_cast<Clock_t::duration>(per), date::choose::earliest);
      return {start, end};
    }
  }
  return {t, t};
}

Result<std::pair<std::chrono::minutes, std::string>> parse_reset(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(
        ErrorKind::invalid_input,
        fmt::format("'{}': {}; expected \"HH:MM Area/City\" such as \"00:00 Asia/Shanghai\"", text,
                    why));
  };
  const auto space = text.find(' ');
  if (space == std::string_view::npos || space != 5 || text[2] != ':')
    return bad("not a time and a zone");
  int hh = 0, mm = 0;
  if (std::from_chars(text.data(), text.data() + 2, hh).ec != std::errc() ||
      std::from_chars(text.data() + 3, text.data() + 5, mm).ec != std::errc() || hh > 23 || mm > 59)
    return bad("the time is not HH:MM");
  std::string zone(text.substr(space + 1));
  try {
    (void)date::locate_zone(zone);
  } catch (const std::exception&) {
    return bad(fmt::format("unknown time zone '{}'", zone));
  }
  return std::pair{std::chrono::minutes(hh * 60 + mm), zone};
}

}  // namespace finsync::ratelimit
