#include "engine/metadata.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "core/dates.hpp"
#include "core/json_escape.hpp"

namespace finsync::engine {

namespace asio = boost::asio;

asio::awaitable<Result<plan::TradingCalendar>> fetch_calendar(Fetcher& fetcher, int32_t start_day,
                                                              int32_t end_day) {
  const config::ProviderDef& def = fetcher.provider().def();
  if (def.continuous) {
    std::vector<int32_t> every_day;
    for (int32_t d = start_day; d <= end_day; ++d) every_day.push_back(d);
    co_return plan::TradingCalendar(std::move(every_day));
  }
  if (!def.calendar) co_return plan::TradingCalendar{};
  const config::EndpointDef* ep = def.endpoint(def.calendar->endpoint);
  provider::Params fixed(def.calendar->params.begin(), def.calendar->params.end());
  provider::Params params = provider::task_params(*ep, fixed, "", start_day, end_day);
  Result<FetchResult> r = co_await fetcher.fetch(*ep, std::move(params));
  if (!r) co_return fail(r.error());
  const RecordBatch& b = r->page.batch;
  const int di = b.schema().index_of(def.calendar->date_column);
  const int oi = b.schema().index_of(def.calendar->open_column);
  if (di < 0 || oi < 0)
    co_return fail(
        ErrorKind::invalid_input,
        fmt::format("{}: calendar columns {} / {} are not columns of endpoint {}", def.source,
                    def.calendar->date_column, def.calendar->open_column, ep->name));
  std::vector<int32_t> open;
  const Column& dc = b.column(di);
  const Column& oc = b.column(oi);
  for (size_t i = 0; i < b.num_rows(); ++i) {
    if (!dc.valid(i) || !oc.valid(i)) continue;
    const bool is_open = oc.type() == DataType::string ? oc.string_at(i) == "1" : oc.int_at(i) != 0;
    if (is_open) open.push_back(int32_t(dc.int_at(i)));
  }
  spdlog::info("calendar: {} trading days between {} and {}", open.size(), dates::iso(start_day),
               dates::iso(end_day));
  co_return plan::TradingCalendar(std::move(open));
}

asio::awaitable<Result<std::vector<plan::Symbol>>> resolve_universe(
    Fetcher& fetcher, const config::UniverseSpec& spec) {
  std::vector<plan::Symbol> out;
  if (spec.from_endpoint.empty()) {
    for (const auto& s : spec.symbols) out.push_back(plan::Symbol{s, {}, {}, ""});
    co_return out;
  }
  const config::ProviderDef& def = fetcher.provider().def();
  const config::EndpointDef* ep = def.endpoint(spec.from_endpoint);
  const config::UniverseDef& u = *ep->universe;
  // Listed, delisted and suspended names are all included unless the plan narrows them: a
  // backfill without the delisted ones would carry survivorship bias.
  std::vector<std::string> statuses = spec.statuses.empty() ? u.statuses : spec.statuses;
  if (statuses.empty() || u.status_param.empty()) statuses = {""};
  for (const auto& status : statuses) {
    provider::Params params;
    if (!status.empty()) params.emplace_back(u.status_param, status);
    Result<FetchResult> r = co_await fetcher.fetch(*ep, std::move(params));
    if (!r) co_return fail(r.error());
    const RecordBatch& b = r->page.batch;
    const int ci = b.schema().index_of(u.symbol_column);
    const int li = u.list_date_column.empty() ? -1 : b.schema().index_of(u.list_date_column);
    const int xi = u.delist_date_column.empty() ? -1 : b.schema().index_of(u.delist_date_column);
    for (size_t i = 0; i < b.num_rows(); ++i) {
      if (!b.column(ci).valid(i)) continue;
      plan::Symbol s{b.column(ci).string_at(i), {}, {}, status};
      if (li >= 0 && b.column(li).valid(i)) s.list_day = int32_t(b.column(li).int_at(i));
      if (xi >= 0 && b.column(xi).valid(i)) s.delist_day = int32_t(b.column(xi).int_at(i));
      out.push_back(std::move(s));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.code < b.code; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.code == b.code; }),
            out.end());
  spdlog::info("universe: {} symbols from {} ({})", out.size(), ep->name,
               fmt::join(statuses, ", "));
  co_return out;
}

std::string universe_to_json(const std::vector<plan::Symbol>& symbols) {
  std::string out = "[";
  for (size_t i = 0; i < symbols.size(); ++i) {
    const auto& s = symbols[i];
    auto day = [](const std::optional<int32_t>& d) {
      return d ? fmt::format("\"{}\"", dates::iso(*d)) : std::string("null");
    };
    out += fmt::format(R"({}{{"code":"{}","list":{},"delist":{},"status":"{}","gen":{}}})",
                       i ? "," : "", json_escape(s.code), day(s.list_day), day(s.delist_day),
                       json_escape(s.status), s.gen);
  }
  return out + "]";
}

Result<std::vector<plan::Symbol>> universe_from_json(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(json).get_array().get(arr) != simdjson::SUCCESS)
    return fail(ErrorKind::internal, "stored universe is not valid JSON");
  std::vector<plan::Symbol> out;
  for (auto e : arr) {
    plan::Symbol s;
    std::string_view v;
    if (e["code"].get_string().get(v) == simdjson::SUCCESS) s.code = std::string(v);
    if (e["status"].get_string().get(v) == simdjson::SUCCESS) s.status = std::string(v);
    if (e["list"].get_string().get(v) == simdjson::SUCCESS) s.list_day = dates::parse_iso(v);
    if (e["delist"].get_string().get(v) == simdjson::SUCCESS) s.delist_day = dates::parse_iso(v);
    int64_t gen = 0;
    if (e["gen"].get_int64().get(gen) == simdjson::SUCCESS) s.gen = int32_t(gen);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace finsync::engine
