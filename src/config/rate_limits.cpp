#include "config/rate_limits.hpp"

#include <fmt/format.h>

#include "ratelimit/window.hpp"

namespace finsync::config {

std::vector<RateLimitDef> parse_rate_limits(const MapReader& r, std::string_view key) {
  std::vector<RateLimitDef> out;
  YAML::Node seq = r.get(key);
  if (!seq.IsSequence()) raise(r.loc_of(key), seq.Mark(), "expected a list");
  for (size_t i = 0; i < seq.size(); ++i) {
    MapReader l(Loc{r.loc().file, fmt::format("{}[{}]", r.loc_of(key).path, i)}, seq[i]);
    l.allow_only({"scope", "endpoint", "limit", "per", "align", "reset", "quota", "used_header",
                  "limit_in_message"});
    RateLimitDef d;
    d.where =
        fmt::format("{}:{}:{}", r.loc().file, seq[i].Mark().line + 1, seq[i].Mark().column + 1);
    d.scope = l.choice("scope", {"account", "endpoint", "ip"}, "account");
    if (d.scope == "endpoint") d.endpoint = l.str("endpoint");
    d.limit = l.integer("limit", 1);
    d.per = l.duration("per");
    if (d.per.count() <= 0) raise(l.loc_of("per"), l.get("per").Mark(), "expected a duration > 0");
    d.align = l.choice("align", {"sliding", "epoch"}, "sliding");
    if (l.has("reset")) {
      if (l.has("align"))
        raise(l.loc_of("reset"), l.get("reset").Mark(),
              "give either `reset` (a clock time) or `align`, not both");
      const std::string text = l.str("reset");
      auto parsed = ratelimit::parse_reset(text);
      if (!parsed) raise(l.loc_of("reset"), l.get("reset").Mark(), parsed.error().message);
      constexpr std::chrono::milliseconds day = std::chrono::hours(24);
      if (d.per > day || day % d.per != std::chrono::milliseconds(0))
        raise(l.loc_of("per"), l.get("per").Mark(),
              fmt::format("value '{}' is not valid with `reset`: expected a period that divides "
                          "a day (1d, 12h, 1h, ...)",
                          l.str("per")));
      d.align = "clock";
      d.reset_offset = parsed->first;
      d.zone = parsed->second;
    }
    d.quota = l.boolean_or("quota", d.per >= std::chrono::hours(1));
    d.used_header = l.str_or("used_header", "");
    if (l.has("limit_in_message")) {
      d.limit_in_message = l.str("limit_in_message");
      try {
        d.limit_in_message_re.emplace(d.limit_in_message, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        raise(l.loc_of("limit_in_message"), l.get("limit_in_message").Mark(),
              fmt::format("value '{}' is not a valid regular expression: {}", d.limit_in_message,
                          e.what()));
      }
      if (d.limit_in_message_re->mark_count() != 1)
        raise(l.loc_of("limit_in_message"), l.get("limit_in_message").Mark(),
              fmt::format("value '{}' is not valid: expected exactly one capture group (the "
                          "number)",
                          d.limit_in_message));
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace finsync::config
