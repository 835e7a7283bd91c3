#include "plan/planner.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/dates.hpp"
#include "core/json_escape.hpp"

namespace finsync::plan {
namespace {

using Range = std::pair<int32_t, int32_t>;

// Parts of [a, b] not covered by `covered`.
std::vector<Range> subtract(int32_t a, int32_t b, std::vector<Range> covered) {
  std::sort(covered.begin(), covered.end());
  std::vector<Range> out;
  int32_t cur = a;
  for (const auto& [s, e] : covered) {
    if (e < cur) continue;
    if (s > b) break;
    if (s > cur) out.emplace_back(cur, std::min(b, s - 1));
    cur = std::max(cur, e + 1);
    if (cur > b) break;
  }
  if (cur <= b) out.emplace_back(cur, b);
  return out;
}

int32_t add_period(int32_t day, const std::string& window) {
  const int n = std::stoi(window.substr(0, window.size() - 1));
  const char unit = window.back();
  if (unit == 'd') return day + n;
  int y;
  unsigned m, d;
  dates::civil_from_days(day, y, m, d);
  int months = unit == 'm' ? n : 12 * n;
  int total = y * 12 + int(m) - 1 + months;
  int ny = total / 12;
  unsigned nm = unsigned(total % 12) + 1;
  // Clamp to the month's length (Jan 31 + 1m = Feb 28/29).
  for (unsigned dd = d; dd >= 28; --dd)
    if (auto r = dates::parse(fmt::format("{:04d}{:02d}{:02d}", ny, nm, dd), "%Y%m%d")) return *r;
  return dates::days_from_civil(ny, nm, d);
}

void cut(const PlanInput& in, const TradingCalendar& cal, const std::string& symbol, Range r,
         std::vector<state::Task>& out) {
  auto first = cal.first_open_on_or_after(r.first, r.second);
  auto last = cal.last_open_on_or_before(r.second, r.first);
  if (!first || !last) return;  // no trading day: nothing to request
  int32_t a = *first;
  const int32_t b = *last;
  const std::string params = symbol_params_json(in.symbol_param, symbol);
  // Leave one row of headroom: a full page means "truncated", so a window is sized below it.
  const int64_t per_window =
      in.max_rows > 1
          ? std::max<int64_t>(1, (in.max_rows - 1) / std::max<int64_t>(1, in.rows_per_day))
          : 0;
  while (a <= b) {
    int32_t e = b;
    if (in.whole_range) {
      e = b;
    } else if (in.window != "auto") {
      e = std::min(b, add_period(a, in.window) - 1);
    } else if (per_window > 0) {
      e = cal.nth_open_from(a, b, per_window);
    }
    if (auto le = cal.last_open_on_or_before(e, a)) e = *le;
    state::Task t;
    t.id = task_id(in.plan, symbol, a, e);
    t.plan = in.plan;
    t.params_json = params;
    t.start_day = a;
    t.end_day = e;
    out.push_back(std::move(t));
    auto next = cal.first_open_on_or_after(e + 1, b);
    if (!next) break;
    a = *next;
  }
}

}  // namespace

std::string task_id(const std::string& plan, const std::string& symbol, int32_t start,
                    int32_t end) {
  return fmt::format("{}/{}{}{}-{}", plan, symbol, symbol.empty() ? "" : "/",
                     dates::format(start, "%Y%m%d"), dates::format(end, "%Y%m%d"));
}

std::string symbol_params_json(const std::string& param, const std::string& symbol) {
  if (param.empty()) return "{}";
  return fmt::format(R"({{"{}":"{}"}})", json_escape(param), json_escape(symbol));
}

std::string task_symbol(const state::Task& t) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(t.params_json).get_object().get(obj) != simdjson::SUCCESS) return "";
  for (auto field : obj) {
    std::string_view v;
    if (field.value.get_string().get(v) == simdjson::SUCCESS) return std::string(v);
  }
  return "";
}

std::vector<state::Task> plan_tasks(const PlanInput& in, const std::vector<state::Task>& existing) {
  static const TradingCalendar weekdays;
  const TradingCalendar& cal = in.calendar ? *in.calendar : weekdays;
  std::vector<state::Task> out;
  auto plan_symbol = [&](const std::string& code, int32_t a, int32_t b) {
    std::vector<Range> covered;
    for (const auto& t : existing)
      if (task_symbol(t) == code) covered.emplace_back(t.start_day, t.end_day);
    for (const auto& r : subtract(a, b, covered)) cut(in, cal, code, r, out);
  };
  if (in.symbol_param.empty()) {
    plan_symbol("", in.start_day, in.end_day);
    return out;
  }
  for (const auto& s : in.symbols) {
    int32_t a = in.start_day, b = in.end_day;
    if (s.list_day) a = std::max(a, *s.list_day);
    // A stock trades until the day before its delisting date.
    if (s.delist_day) b = std::min(b, *s.delist_day - 1);
    if (a <= b) plan_symbol(s.code, a, b);
  }
  return out;
}

Result<std::vector<state::Task>> split_in_half(const state::Task& task,
                                               const TradingCalendar& cal) {
  const int64_t n = cal.count(task.start_day, task.end_day);
  if (n < 2)
    return fail(ErrorKind::permanent,
                fmt::format("task {} hit the row cap on a single trading day; it cannot be split "
                            "further (lower the page size or use a finer parameter set)",
                            task.id));
  const int32_t mid = cal.nth_open_from(task.start_day, task.end_day, n / 2);
  auto second = cal.first_open_on_or_after(mid + 1, task.end_day);
  std::vector<state::Task> halves;
  const std::string symbol = task_symbol(task);
  for (auto [a, b] : {Range{task.start_day, mid}, Range{*second, task.end_day}}) {
    state::Task t;
    t.plan = task.plan;
    t.params_json = task.params_json;
    t.start_day = a;
    t.end_day = b;
    t.id = task_id(task.plan, symbol, a, b);
    t.parent = task.id;
    halves.push_back(std::move(t));
  }
  return halves;
}

}  // namespace finsync::plan
