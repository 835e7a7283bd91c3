#include "config/provider_def.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/yaml_reader.hpp"
#include "ratelimit/window.hpp"

namespace finsync::config {
namespace {

std::string where_of(const Loc& loc, const YAML::Node& n) {
  const auto m = n.Mark();
  return fmt::format("{}:{}:{}: {}", loc.file, m.line + 1, m.column + 1, loc.path);
}

ErrorKind parse_kind(const MapReader& r, std::string_view key) {
  std::string k = r.choice(key, {"transient", "rate_limited", "quota_exhausted", "auth",
                                 "permanent", "not_found", "invalid_input"});
  if (k == "transient") return ErrorKind::transient;
  if (k == "rate_limited") return ErrorKind::rate_limited;
  if (k == "quota_exhausted") return ErrorKind::quota_exhausted;
  if (k == "auth") return ErrorKind::auth;
  if (k == "not_found") return ErrorKind::not_found;
  if (k == "invalid_input") return ErrorKind::invalid_input;
  return ErrorKind::permanent;
}

std::vector<std::pair<std::string, std::string>> string_pairs(const MapReader& parent,
                                                              std::string_view key) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!parent.has(key)) return out;
  MapReader m(parent.loc_of(key), parent.get(key));
  for (const auto& k : m.keys()) out.emplace_back(k, m.str(k));
  return out;
}

RequestDef parse_request(const MapReader& r, RequestDef base) {
  r.allow_only({"method", "path", "query", "headers", "body"});
  base.method = r.choice("method", {"GET", "POST"}, base.method);
  base.path = r.str_or("path", base.path);
  if (r.has("query")) base.query = string_pairs(r, "query");
  if (r.has("headers")) base.headers = string_pairs(r, "headers");
  if (r.has("body")) {
    YAML::Node b = r.get("body");
    if (!b.IsMap()) raise(r.loc_of("body"), b.Mark(), "expected a map (the JSON body template)");
    base.body = b;
  }
  return base;
}

RowsDef parse_rows(const MapReader& r, RowsDef base) {
  r.allow_only({"kind", "fields", "items", "key_column", "rename", "columns"});
  base.kind =
      r.choice("kind", {"fields_items", "objects", "keyed_object", "arrays", "csv"}, base.kind);
  base.fields = r.str_or("fields", base.fields);
  base.items = r.str_or("items", base.items);
  base.key_column = r.str_or("key_column", base.key_column);
  if (r.has("rename")) base.rename = string_pairs(r, "rename");
  if (r.has("columns")) {
    YAML::Node seq = r.get("columns");
    if (!seq.IsSequence())
      raise(r.loc_of("columns"), seq.Mark(), "expected a list of column names by position");
    base.positions.clear();
    for (const auto& n : seq) base.positions.push_back(n.IsNull() ? "" : n.Scalar());
  }
  if (base.kind == "fields_items" && base.fields.empty())
    raise(r.loc(), r.node().Mark(), "rows of kind fields_items need 'fields' (a JSON path)");
  if (base.kind == "keyed_object" && base.key_column.empty())
    raise(r.loc(), r.node().Mark(), "rows of kind keyed_object need 'key_column'");
  if (base.kind == "arrays" && base.positions.empty())
    raise(r.loc(), r.node().Mark(), "rows of kind arrays need 'columns' (names by position)");
  if (base.kind != "csv" && base.items.empty())
    raise(r.loc(), r.node().Mark(), "rows need 'items' (a JSON path)");
  for (const auto* p : {&base.fields, &base.items})
    if (!p->empty() && p->rfind("$", 0) != 0)
      raise(r.loc(), r.node().Mark(),
            fmt::format("value '{}' is not valid: expected a JSON path starting with $", *p));
  return base;
}

ColumnDef parse_column(const MapReader& cols, const std::string& name) {
  ColumnDef c{name, DataType::string, "", ""};
  YAML::Node n = cols.get(name);
  Loc loc = cols.loc_of(name);
  std::string type_text;
  if (n.IsScalar()) {
    type_text = n.Scalar();
  } else {
    MapReader m(loc, n);
    m.allow_only({"type", "format", "param"});
    type_text = m.str("type");
    c.format = m.str_or("format", "");
    c.from_param = m.str_or("param", "");
    loc = m.loc_of("type");
    n = m.get("type");
  }
  auto t = parse_data_type(type_text);
  if (!t)
    raise(loc, n.Mark(),
          fmt::format("value '{}' is not valid: expected a column type (int64, double, string, "
                      "date, timestamp, bool)",
                      type_text));
  c.type = *t;
  if (c.type == DataType::date && c.format.empty()) c.format = "%Y-%m-%d";
  if (c.type == DataType::timestamp && !c.format.empty() && c.format != "epoch_ms" &&
      c.format != "epoch_s")
    raise(loc, n.Mark(),
          fmt::format("value '{}' is not valid: timestamps take format epoch_ms or epoch_s",
                      c.format));
  return c;
}

constexpr std::array<std::string_view, 3> kStrategies = {"symbol_window", "symbol_list",
                                                         "date_all_symbols"};

// split.strategies and the sections of the strategies that need one. The endpoint's params,
// columns and symbol_param are read already.
void parse_split_strategies(const MapReader& s, EndpointDef& e) {
  for (const std::string_view key : {"symbol_list", "date_all_symbols"})
    if (s.has(key) && !s.has("strategies"))
      raise(s.loc_of(key), s.get(key).Mark(),
            fmt::format("configures a strategy, but split.strategies is not given; expected "
                        "strategies: [symbol_window, {}]",
                        key));
  if (!s.has("strategies")) return;
  const YAML::Node seq = s.get("strategies");
  const Loc loc = s.loc_of("strategies");
  if (e.split_by != "time")
    raise(loc, seq.Mark(),
          "strategies apply to splits by time window; 'by: symbol' makes one task per symbol "
          "over the whole range");
  if (e.symbol_param.empty())
    raise(loc, seq.Mark(),
          "strategies choose how to group symbols: the endpoint needs a symbol_param");
  const std::vector<std::string> names = s.str_list("strategies");
  if (names.empty()) raise(loc, seq.Mark(), "expected at least one strategy");
  const std::vector<std::string> all(kStrategies.begin(), kStrategies.end());
  e.split.strategies.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    const Loc item{loc.file, fmt::format("{}[{}]", loc.path, i)};
    const YAML::Mark mark = seq.IsSequence() ? seq[i].Mark() : seq.Mark();
    if (std::find(all.begin(), all.end(), names[i]) == all.end()) {
      const std::string hint = closest_match(names[i], all);
      raise(item, mark,
            fmt::format("value '{}' is not valid: expected one of {}{}", names[i],
                        fmt::join(all, ", "),
                        hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
    if (e.split.allows(names[i]))
      raise(item, mark, fmt::format("value '{}' is listed twice", names[i]));
    e.split.strategies.push_back(names[i]);
  }
  for (const std::string_view key : {"symbol_list", "date_all_symbols"}) {
    if (s.has(key) && !e.split.allows(key))
      raise(s.loc_of(key), s.get(key).Mark(),
            fmt::format("is given, but split.strategies does not list {}", key));
    if (!s.has(key) && e.split.allows(key))
      raise(loc, seq.Mark(),
            fmt::format("lists {0}, but split.{0} is missing (expected {1})", key,
                        key == "symbol_list" ? "{ max: N } and optionally param, separator"
                                             : "{ param: <a date parameter> } and optionally "
                                               "universe, symbol_column"));
  }
  if (s.has("symbol_list")) {
    MapReader l(s.loc_of("symbol_list"), s.get("symbol_list"));
    l.allow_only({"param", "separator", "max"});
    e.split.list_param = l.str_or("param", e.symbol_param);
    if (e.param(e.split.list_param) == nullptr)
      raise(l.has("param") ? l.loc_of("param") : l.loc(),
            l.has("param") ? l.get("param").Mark() : l.node().Mark(),
            fmt::format("value '{}' is not valid: expected the name of a parameter of this "
                        "endpoint",
                        e.split.list_param));
    e.split.list_separator = l.str_or("separator", ",");
    if (e.split.list_separator.empty())
      raise(l.loc_of("separator"), l.get("separator").Mark(),
            "value '' is not valid: expected a non-empty separator such as ','");
    e.split.list_max = l.integer("max", 2);
  }
  if (s.has("date_all_symbols")) {
    MapReader d(s.loc_of("date_all_symbols"), s.get("date_all_symbols"));
    d.allow_only({"param", "universe", "symbol_column"});
    e.split.date_param = d.str("param");
    const ParamDef* p = e.param(e.split.date_param);
    if (p == nullptr || p->type != "date")
      raise(d.loc_of("param"), d.get("param").Mark(),
            fmt::format("value '{}' is not valid: expected the name of a date parameter of this "
                        "endpoint",
                        e.split.date_param));
    e.split.universe = d.str_or("universe", "");
    e.split.symbol_column = d.str_or("symbol_column", e.symbol_param);
    const bool is_string_column =
        std::any_of(e.columns.begin(), e.columns.end(), [&](const ColumnDef& c) {
          return c.name == e.split.symbol_column && c.type == DataType::string;
        });
    if (!is_string_column)
      raise(d.has("symbol_column") ? d.loc_of("symbol_column") : d.loc(),
            d.has("symbol_column") ? d.get("symbol_column").Mark() : d.node().Mark(),
            fmt::format("value '{}' is not valid: expected a string column of this endpoint "
                        "that names each row's symbol",
                        e.split.symbol_column));
    e.split_universe_where = where_of(d.has("universe") ? d.loc_of("universe") : d.loc(),
                                      d.has("universe") ? d.get("universe") : d.node());
  }
}

EndpointDef parse_endpoint(const MapReader& r, const std::string& name, const RequestDef& req,
                           const RowsDef& rows) {
  r.allow_only({"api_name", "request", "params", "window", "symbol_param", "rows", "columns",
                "primary_key", "time_column", "max_rows_per_request", "split", "weight", "universe",
                "description", "pagination", "interval_param", "available_after"});
  EndpointDef e;
  e.name = name;
  e.where = where_of(r.loc(), r.node());
  e.api_name = r.str_or("api_name", name);
  e.request =
      r.has("request") ? parse_request(MapReader(r.loc_of("request"), r.get("request")), req) : req;
  e.rows = r.has("rows") ? parse_rows(MapReader(r.loc_of("rows"), r.get("rows")), rows) : rows;
  if (e.rows.items.empty() && e.rows.kind != "csv")
    raise(r.loc(), r.node().Mark(), "no 'rows' given here or at the provider level");
  if (r.has("params")) {
    MapReader p(r.loc_of("params"), r.get("params"));
    for (const auto& k : p.keys()) {
      MapReader pm(p.loc_of(k), p.get(k));
      pm.allow_only({"type", "format", "description"});
      ParamDef d{k, pm.choice("type", {"string", "date", "int"}, "string"),
                 pm.str_or("format", "")};
      if (d.type == "date" && d.format.empty()) d.format = "%Y-%m-%d";
      e.params.push_back(d);
    }
  }
  if (r.has("window")) {
    MapReader w(r.loc_of("window"), r.get("window"));
    w.allow_only({"start", "end"});
    e.window_start_param = w.str("start");
    e.window_end_param = w.str("end");
    for (const auto& [key, pname] :
         {std::pair{"start", e.window_start_param}, std::pair{"end", e.window_end_param}}) {
      const ParamDef* p = e.param(pname);
      if (p == nullptr || p->type != "date")
        raise(w.loc_of(key), w.get(key).Mark(),
              fmt::format("value '{}' is not valid: expected the name of a date parameter of this "
                          "endpoint",
                          pname));
    }
  }
  if (r.has("symbol_param")) {
    e.symbol_param = r.str("symbol_param");
    if (e.param(e.symbol_param) == nullptr)
      raise(
          r.loc_of("symbol_param"), r.get("symbol_param").Mark(),
          fmt::format("value '{}' is not valid: expected the name of a parameter of this endpoint",
                      e.symbol_param));
  }
  MapReader cols(r.loc_of("columns"), r.get("columns"));
  for (const auto& k : cols.keys()) e.columns.push_back(parse_column(cols, k));
  for (const auto& c : e.columns)
    if (!c.from_param.empty() && e.param(c.from_param) == nullptr)
      raise(cols.loc_of(c.name), cols.get(c.name).Mark(),
            fmt::format("value '{}' is not valid: expected the name of a parameter of this "
                        "endpoint",
                        c.from_param));
  if (r.has("pagination")) {
    MapReader pg(r.loc_of("pagination"), r.get("pagination"));
    pg.allow_only({"kind", "path", "offset_param", "limit_param", "page_size"});
    e.pagination.kind = pg.choice("kind", {"none", "next_url", "offset"});
    if (e.pagination.kind == "next_url") {
      e.pagination.path = pg.str("path");
      if (e.pagination.path.rfind("$", 0) != 0)
        raise(pg.loc_of("path"), pg.get("path").Mark(),
              fmt::format("value '{}' is not valid: expected a JSON path starting with $",
                          e.pagination.path));
    } else if (e.pagination.kind == "offset") {
      e.pagination.offset_param = pg.str("offset_param");
      e.pagination.limit_param = pg.str("limit_param");
      e.pagination.page_size = pg.integer("page_size", 1);
    }
  }
  if (r.has("available_after")) {
    auto parsed = ratelimit::parse_reset(r.str("available_after"));
    if (!parsed)
      raise(r.loc_of("available_after"), r.get("available_after").Mark(), parsed.error().message);
    e.available_after = parsed->first;
    e.zone = parsed->second;
  }
  if (r.has("interval_param")) {
    e.interval_param = r.str("interval_param");
    if (e.param(e.interval_param) == nullptr)
      raise(
          r.loc_of("interval_param"), r.get("interval_param").Mark(),
          fmt::format("value '{}' is not valid: expected the name of a parameter of this endpoint",
                      e.interval_param));
  }
  e.primary_key = r.str_list("primary_key");
  if (e.primary_key.empty())
    raise(r.loc_of("primary_key"), r.get("primary_key").Mark(), "expected at least one column");
  std::vector<std::string> names;
  for (const auto& c : e.columns) names.push_back(c.name);
  for (const auto& k : e.primary_key)
    if (std::find(names.begin(), names.end(), k) == names.end())
      raise(r.loc_of("primary_key"), r.get("primary_key").Mark(),
            fmt::format("value '{}' is not valid: expected one of the columns ({})", k,
                        fmt::join(names, ", ")));
  if (r.has("time_column")) {
    e.time_column = r.str("time_column");
    auto it = std::find_if(e.columns.begin(), e.columns.end(),
                           [&](const ColumnDef& c) { return c.name == e.time_column; });
    if (it == e.columns.end() || (it->type != DataType::date && it->type != DataType::timestamp))
      raise(r.loc_of("time_column"), r.get("time_column").Mark(),
            fmt::format("value '{}' is not valid: expected a date or timestamp column",
                        e.time_column));
  }
  e.max_rows_per_request = r.integer_or("max_rows_per_request", 0, 1);
  if (r.has("weight") && r.get("weight").IsMap()) {
    MapReader w(r.loc_of("weight"), r.get("weight"));
    w.allow_only({"param", "default", "steps"});
    e.weight_param = w.str("param");
    e.weight_param_default = w.integer("default", 0);
    YAML::Node steps = w.get("steps");
    if (!steps.IsSequence() || steps.size() == 0)
      raise(w.loc_of("steps"), steps.Mark(), "expected a list of [up_to, weight] pairs");
    for (const auto& st : steps) {
      if (!st.IsSequence() || st.size() != 2)
        raise(w.loc_of("steps"), st.Mark(), "expected a pair [up_to, weight]");
      const auto up_to = st[0].as<int64_t>(), weight = st[1].as<int64_t>();
      if (weight < 1 || (!e.weight_steps.empty() && up_to <= e.weight_steps.back().first))
        raise(w.loc_of("steps"), st.Mark(),
              "expected ascending `up_to` values and weights of at least 1");
      e.weight_steps.emplace_back(up_to, weight);
    }
    e.weight = e.weight_steps.front().second;
  } else {
    e.weight = r.integer_or("weight", 1, 1);
  }
  if (r.has("split")) {
    MapReader s(r.loc_of("split"), r.get("split"));
    s.allow_only({"by", "window", "strategies", "symbol_list", "date_all_symbols"});
    e.split_by = s.choice("by", {"time", "symbol"}, "time");
    if (s.has("window")) e.split_window = s.split_window("window");
    parse_split_strategies(s, e);
  }
  if (r.has("universe")) {
    MapReader u(r.loc_of("universe"), r.get("universe"));
    u.allow_only(
        {"symbol_column", "list_date_column", "delist_date_column", "status_param", "statuses"});
    UniverseDef d;
    d.symbol_column = u.str("symbol_column");
    d.list_date_column = u.str_or("list_date_column", "");
    d.delist_date_column = u.str_or("delist_date_column", "");
    d.status_param = u.str_or("status_param", "");
    if (u.has("statuses")) d.statuses = u.str_list("statuses");
    e.universe = d;
  }
  return e;
}

ErrorRuleDef parse_error_rule(const MapReader& r) {
  r.allow_only({"when", "kind", "retry_after"});
  ErrorRuleDef rule;
  rule.where = where_of(r.loc(), r.node());
  MapReader w(r.loc_of("when"), r.get("when"));
  w.allow_only({"status", "json", "equals", "in", "not_equals", "present", "message_matches"});
  if (w.has("status"))
    for (const auto& s : w.str_list("status")) {
      int v = 0;
      try {
        v = std::stoi(s);
      } catch (...) {
      }
      if (v < 100 || v > 599)
        raise(w.loc_of("status"), w.get("status").Mark(),
              fmt::format("value '{}' is not valid: expected an HTTP status 100-599", s));
      rule.statuses.push_back(v);
    }
  rule.json_path = w.str_or("json", "");
  if (w.has("equals")) rule.equals = w.str_list("equals");
  if (w.has("in")) {
    auto more = w.str_list("in");
    rule.equals.insert(rule.equals.end(), more.begin(), more.end());
  }
  if (w.has("not_equals")) rule.not_equals = w.str_list("not_equals");
  if (w.has("present")) rule.present = w.boolean_or("present", true);
  if ((!rule.equals.empty() || !rule.not_equals.empty() || rule.present) && rule.json_path.empty())
    raise(w.loc(), w.node().Mark(),
          "'equals', 'in', 'not_equals' and 'present' need 'json' (a JSON path)");
  rule.message_matches = w.str_or("message_matches", "");
  if (!rule.message_matches.empty()) {
    try {
      rule.message_re.emplace(rule.message_matches);
    } catch (const std::regex_error& e) {
      raise(w.loc_of("message_matches"), w.get("message_matches").Mark(),
            fmt::format("value '{}' is not valid: expected a regular expression ({})",
                        rule.message_matches, e.what()));
    }
  }
  rule.kind = parse_kind(r, "kind");
  if (r.has("retry_after")) rule.retry_after = r.duration("retry_after");
  return rule;
}

ProviderDef parse_provider_node(const YAML::Node& root, const std::string& file) {
  MapReader r(Loc{file, ""}, root);
  r.allow_only({"provider", "description", "base_url", "auth", "rate_limits", "max_in_flight",
                "errors", "message", "calendar", "request", "rows", "endpoints"});
  ProviderDef p;
  p.source = file;
  p.name = r.str("provider");
  p.description = r.str_or("description", "");
  p.base_url = RawValue{r.str("base_url"), where_of(r.loc_of("base_url"), r.get("base_url"))};
  if (r.has("auth")) {
    MapReader a(r.loc_of("auth"), r.get("auth"));
    a.allow_only({"kind", "field", "prefix", "value"});
    p.auth.kind = a.choice("kind", {"none", "header", "query", "body_field"});
    if (p.auth.kind != "none") {
      p.auth.field = a.str("field");
      p.auth.prefix = a.str_or("prefix", "");
      p.auth.value = RawValue{a.str("value"), where_of(a.loc_of("value"), a.get("value"))};
    }
  }
  if (r.has("rate_limits")) p.rate_limits = parse_rate_limits(r, "rate_limits");
  p.max_in_flight = static_cast<int>(r.integer_or("max_in_flight", 0, 1));
  if (r.has("errors")) {
    YAML::Node seq = r.get("errors");
    if (!seq.IsSequence()) raise(r.loc_of("errors"), seq.Mark(), "expected a list");
    for (size_t i = 0; i < seq.size(); ++i)
      p.errors.push_back(
          parse_error_rule(MapReader(Loc{file, fmt::format("errors[{}]", i)}, seq[i])));
  }
  p.message_path = r.str_or("message", "");
  RequestDef req;
  if (r.has("request")) req = parse_request(MapReader(r.loc_of("request"), r.get("request")), req);
  RowsDef rows;
  if (r.has("rows")) rows = parse_rows(MapReader(r.loc_of("rows"), r.get("rows")), rows);
  MapReader eps(r.loc_of("endpoints"), r.get("endpoints"));
  for (const auto& k : eps.keys())
    p.endpoints.emplace(k, parse_endpoint(MapReader(eps.loc_of(k), eps.get(k)), k, req, rows));
  if (r.has("calendar") && r.get("calendar").IsScalar()) {
    if (r.str("calendar") != "continuous")
      raise(r.loc_of("calendar"), r.get("calendar").Mark(),
            fmt::format("value '{}' is not valid: expected continuous or a calendar endpoint map",
                        r.str("calendar")));
    p.continuous = true;
  } else if (r.has("calendar")) {
    MapReader c(r.loc_of("calendar"), r.get("calendar"));
    c.allow_only({"endpoint", "params", "date_column", "open_column"});
    CalendarDef d;
    d.endpoint = c.str("endpoint");
    if (!p.endpoints.count(d.endpoint))
      raise(c.loc_of("endpoint"), c.get("endpoint").Mark(),
            fmt::format("value '{}' is not valid: expected an endpoint of this provider",
                        d.endpoint));
    d.params = string_pairs(c, "params");
    d.date_column = c.str("date_column");
    d.open_column = c.str("open_column");
    p.calendar = d;
  }
  // date_all_symbols names (or defaults to) the endpoint listing every symbol.
  std::vector<std::string> universes;
  for (const auto& [n, ep] : p.endpoints)
    if (ep.universe) universes.push_back(n);
  for (auto& [n, ep] : p.endpoints) {
    if (!ep.split.allows("date_all_symbols")) continue;
    if (ep.split.universe.empty() && universes.size() == 1) ep.split.universe = universes[0];
    const EndpointDef* u = p.endpoint(ep.split.universe);
    const std::string known =
        universes.empty() ? "there is none" : fmt::format("{}", fmt::join(universes, ", "));
    if (ep.split.universe.empty())
      throw ConfigError{fmt::format(
          "{}: expected 'universe': the endpoint of this provider that lists every symbol an "
          "answer by date holds (endpoints with a 'universe' section: {})",
          ep.split_universe_where, known)};
    if (u == nullptr || !u->universe)
      throw ConfigError{
          fmt::format("{}: value '{}' is not valid: expected an endpoint of this provider with a "
                      "'universe' section ({})",
                      ep.split_universe_where, ep.split.universe, known)};
  }
  for (const auto& l : p.rate_limits)
    if (l.scope == "endpoint" && !p.endpoints.count(l.endpoint))
      throw ConfigError{
          fmt::format("{}: rate_limits: endpoint '{}' is not defined; expected one of "
                      "the endpoints of this provider",
                      file, l.endpoint)};
  return p;
}

}  // namespace

int64_t EndpointDef::weight_for(
    const std::vector<std::pair<std::string, std::string>>& params) const {
  if (weight_param.empty()) return weight;
  int64_t v = weight_param_default;
  for (const auto& [k, value] : params) {
    if (k != weight_param) continue;
    try {
      v = std::stoll(value);
    } catch (const std::exception&) {
      return weight_steps.back().second;  // unreadable: assume the heaviest
    }
  }
  for (const auto& [up_to, w] : weight_steps)
    if (v <= up_to) return w;
  return weight_steps.back().second;
}

bool SplitDef::allows(std::string_view strategy) const {
  return std::find(strategies.begin(), strategies.end(), strategy) != strategies.end();
}

const ParamDef* EndpointDef::param(std::string_view n) const {
  for (const auto& p : params)
    if (p.name == n) return &p;
  return nullptr;
}

Schema EndpointDef::schema() const {
  Schema s;
  for (const auto& c : columns) s.fields.push_back(Field{c.name, c.type});
  return s;
}

const EndpointDef* ProviderDef::endpoint(std::string_view n) const {
  auto it = endpoints.find(std::string(n));
  return it == endpoints.end() ? nullptr : &it->second;
}

Result<ProviderDef> parse_provider(const std::string& text, const std::string& file) {
  try {
    return parse_provider_node(parse_yaml(text, file), file);
  } catch (const ConfigError& e) {
    return fail(ErrorKind::invalid_input, e.message);
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::invalid_input, fmt::format("{}: {}", file, e.what()));
  }
}

}  // namespace finsync::config
