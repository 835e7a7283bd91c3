#include "config/plan_def.hpp"

#include <chrono>
#include <set>

#include <fmt/format.h>

#include "config/yaml_reader.hpp"
#include "core/dates.hpp"

namespace finsync::config {
namespace {

int32_t date_value(const MapReader& r, std::string_view key) {
  std::string text = r.str(key);
  auto d = dates::parse_iso(text);
  if (!d)
    raise(r.loc_of(key), r.get(key).Mark(),
          fmt::format("value '{}' is not valid: expected a date YYYY-MM-DD", text));
  return *d;
}

int32_t today_utc() {
  using namespace std::chrono;
  return int32_t(floor<days>(system_clock::now()).time_since_epoch().count());
}

PlanDef parse_plan_node(const YAML::Node& root, const std::string& file) {
  MapReader r(Loc{file, ""}, root);
  r.allow_only({"name", "description", "provider", "endpoint", "universe", "range", "params",
                "sink", "split", "concurrency"});
  PlanDef p;
  p.source = file;
  p.name = r.str("name");
  if (p.name.empty() || p.name.find_first_of("/\\ \t") != std::string::npos)
    raise(
        r.loc_of("name"), r.get("name").Mark(),
        fmt::format("value '{}' is not valid: expected a name without spaces or slashes", p.name));
  p.provider = r.str("provider");
  p.endpoint = r.str("endpoint");
  if (r.has("universe")) {
    MapReader u(r.loc_of("universe"), r.get("universe"));
    u.allow_only({"symbols", "from", "list_status"});
    if (u.has("symbols") == u.has("from"))
      raise(u.loc(), u.node().Mark(), "expected exactly one of 'symbols' or 'from'");
    if (u.has("symbols")) p.universe.symbols = u.str_list("symbols");
    if (u.has("from")) p.universe.from_endpoint = u.str("from");
    if (u.has("list_status")) p.universe.statuses = u.str_list("list_status");
  }
  MapReader range(r.loc_of("range"), r.get("range"));
  range.allow_only({"start", "end", "lookback"});
  p.start_day = date_value(range, "start");
  p.end_today = range.str("end") == "today";
  // Until a run knows the endpoint's time zone, today in UTC.
  p.end_day = p.end_today ? today_utc() : date_value(range, "end");
  if (range.has("lookback")) {
    if (!p.end_today)
      raise(range.loc_of("lookback"), range.get("lookback").Mark(),
            "`lookback` applies to a range that ends `today`; this one ends on a fixed date");
    p.lookback = static_cast<int>(range.integer_or("lookback", 3, 0));
  }
  if (p.end_day < p.start_day)
    raise(range.loc_of("end"), range.get("end").Mark(),
          fmt::format("value '{}' is not valid: expected a date on or after start ({})",
                      range.str("end"), range.str("start")));
  if (r.has("params")) {
    MapReader pm(r.loc_of("params"), r.get("params"));
    for (const auto& k : pm.keys()) p.params.emplace_back(k, pm.str(k));
  }
  MapReader s(r.loc_of("sink"), r.get("sink"));
  std::vector<std::string_view> sink_names;
  for (const auto& k : sink_keys()) sink_names.push_back(k.name);
  s.allow_only(sink_names);
  auto at = [&](const YAML::Node& n, const std::string& key) {
    return fmt::format("{}:{}:{}: {}", file, n.Mark().line + 1, n.Mark().column + 1, key);
  };
  p.sink.block = at(r.get("sink"), "sink");
  for (const auto& k : s.keys()) p.sink.where[k] = at(s.get(k), "sink." + k);
  auto raw = [&](const std::string& k) { return RawValue{s.str(k), p.sink.where[k]}; };
  p.sink.kind = s.str("kind");
  if (s.has("path")) p.sink.path = raw("path");
  p.sink.table = s.str_or("table", p.endpoint);
  p.sink.mode = s.choice("mode", {"append", "replace", "upsert"}, "upsert");
  p.sink.replace = s.choice("replace", {"table", "partition"}, "table");
  if (s.has("partition_by")) p.sink.partition_by = s.str_list("partition_by");
  if (s.has("dsn")) p.sink.dsn = raw("dsn");
  if (s.has("password")) p.sink.password = raw("password");
  p.sink.batch_size = s.integer_or("batch_size", 0, 1);
  p.sink.schema_drift = s.choice("schema_drift", {"fail", "evolve"}, "fail");
  static const std::set<std::string> common = {"kind",       "path",         "table", "mode",
                                               "replace",    "partition_by", "dsn",   "password",
                                               "batch_size", "schema_drift"};
  for (const auto& k : s.keys())
    if (!common.count(k)) {
      if (!s.get(k).IsScalar())
        raise(s.loc_of(k), s.get(k).Mark(),
              fmt::format("value {} is not valid: expected a single value", scalar_text(s.get(k))));
      p.sink.options.emplace_back(k, raw(k));
    }
  if (r.has("split")) {
    MapReader sp(r.loc_of("split"), r.get("split"));
    sp.allow_only({"window", "strategy"});
    if (sp.has("window")) p.split_window = sp.split_window("window");
    if (sp.has("strategy")) {
      p.split_strategy =
          sp.choice("strategy", {"auto", "symbol_window", "symbol_list", "date_all_symbols"});
      const YAML::Mark m = sp.get("strategy").Mark();
      p.split_strategy_where =
          fmt::format("{}:{}:{}: split.strategy", file, m.line + 1, m.column + 1);
      if (p.split_strategy == "auto") p.split_strategy.clear();
    }
  }
  p.concurrency = static_cast<int>(r.integer_or("concurrency", 0, 1));
  return p;
}

}  // namespace

const std::vector<SinkKey>& sink_keys() {
  // Every key some built-in sink kind takes; the kind's factory rejects the ones it does not.
  static const std::vector<SinkKey> keys = {
      {"kind"},       {"path"},        {"table"},    {"mode"},       {"partition_by", true},
      {"replace"},    {"dsn"},         {"password"}, {"batch_size"}, {"schema_drift"},
      {"schema"},     {"max_retries"}, {"load"},     {"sheets"},     {"sheet_column"},
      {"sheet_rows"}, {"url"},         {"database"}};
  return keys;
}

Result<PlanDef> parse_plan(const std::string& text, const std::string& file) {
  try {
    PlanDef p = parse_plan_node(parse_yaml(text, file), file);
    p.text = text;
    return p;
  } catch (const ConfigError& e) {
    return fail(ErrorKind::invalid_input, e.message);
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::invalid_input, fmt::format("{}: {}", file, e.what()));
  }
}

Result<PlanDef> load_plan_file(const std::string& path) {
  try {
    return parse_plan(read_file(path), path);
  } catch (const ConfigError& e) {
    return fail(ErrorKind::invalid_input, e.message);
  }
}

}  // namespace finsync::config
