#include "tushare_personality.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dates.hpp"
#include "hash.hpp"

namespace emu {

namespace {

constexpr std::string_view kMsgBadToken = "您的token不对，请确认。";
constexpr std::string_view kMsgUnknownApi = "接口名称不正确";
// The real API's answer to a ts_code list it will not take (reported for lists of thousands).
constexpr std::string_view kMsgServerError =
    "服务器错误，请稍后再试！期待您能把错误反馈给我们，谢谢！";
constexpr std::string_view kRateDocUrl = "https://tushare.pro/document/1?doc_id=108";

std::string minute_message(std::uint64_t n) {
  return fmt::format("抱歉，您每分钟最多访问该接口{}次，权限的具体详情访问：{}。", n, kRateDocUrl);
}

std::string day_message(std::uint64_t n) {
  return fmt::format("抱歉，您每天最多访问该接口{}次，权限的具体详情访问：{}。", n, kRateDocUrl);
}

const std::uint64_t kBootNonce =
    static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());

std::string request_id(std::uint64_t seq) {
  const std::uint64_t a = hash_of({kBootNonce, seq, 1});
  const std::uint64_t b = hash_of({kBootNonce, seq, 2});
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

std::string error_body(std::uint64_t seq, int code, std::string_view msg) {
  std::string out = "{\"request_id\":\"" + request_id(seq) + "\",\"code\":";
  out += std::to_string(code);
  out += ",\"msg\":";
  append_json_string(out, msg);
  out += ",\"data\":null}";
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// A copy for the audit log that cannot be arbitrarily deep (deep values are summarised).
nlohmann::json audit_copy(const nlohmann::json& v, int depth = 0) {
  if (!v.is_structured()) return v;
  if (depth >= 4) return v.is_array() ? "<array>" : "<object>";
  nlohmann::json out = v.is_array() ? nlohmann::json::array() : nlohmann::json::object();
  for (const auto& [k, item] : v.items()) {
    if (v.is_array()) {
      out.push_back(audit_copy(item, depth + 1));
    } else {
      out[k] = audit_copy(item, depth + 1);
    }
  }
  return out;
}

// Fills the audit fields that come from the request body: api_name, params, fields, token.
void describe_body(const nlohmann::json& body, AuditRecord& audit,
                   std::vector<std::string>& wanted_fields) {
  const auto token_it = body.find("token");
  audit.token = token_it != body.end() && !token_it->is_null() ? "***" : "missing";
  const auto api_it = body.find("api_name");
  if (api_it != body.end() && api_it->is_string()) audit.api_name = api_it->get<std::string>();
  const auto params_it = body.find("params");
  if (params_it != body.end()) audit.params = audit_copy(*params_it);
  const auto fields_it = body.find("fields");
  if (fields_it == body.end()) return;
  if (fields_it->is_string()) {
    audit.fields = fields_it->get<std::string>();
    wanted_fields = split_list(audit.fields);
  } else if (fields_it->is_array()) {
    for (const auto& f : *fields_it) {
      if (!f.is_string()) continue;
      if (!audit.fields.empty()) audit.fields += ',';
      audit.fields += f.get<std::string>();
      wanted_fields.push_back(f.get<std::string>());
    }
  }
}

enum class Api { stock_basic, trade_cal, daily };

bool api_from_name(std::string_view name, Api& api) {
  if (name == "stock_basic") {
    api = Api::stock_basic;
  } else if (name == "trade_cal") {
    api = Api::trade_cal;
  } else if (name == "daily") {
    api = Api::daily;
  } else {
    return false;
  }
  return true;
}

}  // namespace

struct TusharePersonality::Answer {
  Api api = Api::daily;
  StockFilter filter;
  std::vector<const Stock*> stocks;
  std::string exchange;
  int start = 0;
  int end = 99999999;
  int is_open = -1;
  // Tushare's paging of any api: rows [offset, offset + limit) of the answer; limit 0 = none.
  std::size_t limit = 0;
  std::size_t offset = 0;
};

TusharePersonality::TusharePersonality(std::shared_ptr<const World> world, TushareConfig config,
                                       std::shared_ptr<Chaos> chaos)
    : world_(std::move(world)),
      config_(std::move(config)),
      chaos_(std::move(chaos)),
      limiter_(config_.per_minute, config_.per_day, config_.minute_seconds, config_.day_seconds) {}

bool TusharePersonality::build_answer(const std::string& api_name, const Params& params, Answer& a,
                                      std::string& error) const {
  auto get = [&](std::string_view key) -> std::string_view {
    const auto it = params.find(key);
    return it == params.end() ? std::string_view{} : trim(it->second);
  };
  auto date = [&](std::string_view key, int& out) {
    const std::string_view v = get(key);
    if (v.empty()) return true;
    if (parse_ymd(v, out)) return true;
    error = fmt::format("参数错误：{} 应为YYYYMMDD格式的日期", key);
    return false;
  };
  auto count = [&](std::string_view key, std::size_t& out) {
    const std::string_view v = get(key);
    if (v.empty()) return true;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec == std::errc() && end == v.data() + v.size()) return true;
    error = fmt::format("参数错误：{} 应为非负整数", key);
    return false;
  };
  if (!api_from_name(api_name, a.api)) {
    error = kMsgUnknownApi;
    return false;
  }
  if (!count("limit", a.limit) || !count("offset", a.offset)) return false;
  switch (a.api) {
    case Api::stock_basic: {
      const std::string_view status = get("list_status");
      if (status.empty()) {
        a.filter.statuses = "L";
      } else {
        for (const std::string& s : split_list(status)) {
          if (s == "L" || s == "D" || s == "P") a.filter.statuses += s;
        }
        if (a.filter.statuses.empty()) a.filter.statuses = "-";
      }
      a.filter.exchange = std::string(get("exchange"));
      a.filter.codes = split_list(get("ts_code"));
      return true;
    }
    case Api::trade_cal: {
      a.exchange = std::string(get("exchange"));
      if (a.exchange.empty()) a.exchange = "SSE";
      const std::string_view open = get("is_open");
      if (open == "0" || open == "1") {
        a.is_open = open[0] - '0';
      } else if (!open.empty()) {
        error = "参数错误：is_open 应为 0 或 1";
        return false;
      }
      return date("start_date", a.start) && date("end_date", a.end);
    }
    case Api::daily: {
      a.filter.codes = split_list(get("ts_code"));
      if (config_.max_codes > 0 && a.filter.codes.size() > config_.max_codes) {
        error = kMsgServerError;
        return false;
      }
      const std::string_view one_day = get("trade_date");
      if (!one_day.empty()) {
        if (!date("trade_date", a.start)) return false;
        a.end = a.start;
        return true;
      }
      return date("start_date", a.start) && date("end_date", a.end);
    }
  }
  return false;
}

void TusharePersonality::describe(const HttpRequest& request, AuditRecord& audit) const {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (!body.is_object()) return;
  std::vector<std::string> unused;
  describe_body(body, audit, unused);
}

HttpReply TusharePersonality::handle(const HttpRequest& req) {
  HttpReply reply;
  AuditRecord& audit = reply.audit;
  auto fail = [&](int http_status, int code, std::string_view msg, const char* outcome) {
    reply.http_status = http_status;
    reply.body = error_body(req.seq, code, msg);
    audit.code = code;
    audit.outcome = outcome;
    return reply;
  };

  if (req.method != "POST") return fail(405, kCodeBadRequest, "请使用POST方法", "bad_request");
  const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
  if (path.empty() || path.back() != '/') {
    return fail(404, kCodeBadRequest, "not found: use POST /", "bad_request");
  }

  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    return fail(200, kCodeBadRequest, "请求格式错误：请求体不是合法的JSON", "bad_request");
  }
  if (!body.is_object()) {
    return fail(200, kCodeBadRequest, "请求格式错误：请求体应为JSON对象", "bad_request");
  }

  // Gather what the audit log shows before judging anything.
  std::vector<std::string> wanted_fields;
  describe_body(body, audit, wanted_fields);
  const auto token_it = body.find("token");
  const bool has_token = token_it != body.end() && !token_it->is_null();
  const auto params_it = body.find("params");

  if (!has_token || !token_it->is_string() ||
      token_it->get_ref<const std::string&>() != config_.token) {
    return fail(200, kCodeBadToken, kMsgBadToken, "auth");
  }
  if (!audit.api_name) {
    return fail(200, kCodeBadRequest, "请求格式错误：缺少api_name", "bad_request");
  }
  const std::string& api_name = *audit.api_name;

  Params params;
  if (params_it != body.end() && !params_it->is_null()) {
    if (!params_it->is_object()) {
      return fail(200, kCodeBadRequest, "请求格式错误：params应为JSON对象", "bad_request");
    }
    for (const auto& [k, v] : params_it->items()) {
      if (v.is_string()) {
        params.emplace(k, v.get<std::string>());
      } else if (v.is_number() || v.is_boolean()) {
        params.emplace(k, v.dump());
      } else if (!v.is_null()) {
        const std::string msg = fmt::format("参数错误：{} 应为字符串", k);
        return fail(200, kCodeBadRequest, msg, "bad_request");
      }
    }
  }

  Answer answer;
  std::string error;
  if (!build_answer(api_name, params, answer, error)) {
    return fail(200, kCodeBadRequest, error, "bad_request");
  }

  // Limits, then chaos, then counting, as one step: a faulted answer does not use quota.
  ChaosVerdict verdict;
  {
    std::lock_guard lock(gate_);
    switch (limiter_.check(api_name, req.arrival)) {
      case RateLimiter::Verdict::day:
        return fail(200, kCodeRateLimited, day_message(limiter_.per_day()), "rate_limited_day");
      case RateLimiter::Verdict::minute:
        return fail(200, kCodeRateLimited, minute_message(limiter_.per_minute()),
                    "rate_limited_minute");
      case RateLimiter::Verdict::ok:
        break;
    }
    verdict = chaos_->decide();
    if (verdict.fault == Fault::none) limiter_.record(api_name, req.arrival);
  }
  if (verdict.fault == Fault::http_error) {
    reply.fault = Fault::http_error;
    reply.http_status = verdict.http_status;
    reply.content_type = verdict.content_type;
    reply.body = std::move(verdict.body);
    audit.outcome = "http_error";
    return reply;
  }
  if (verdict.fault == Fault::drop) {
    reply.fault = Fault::drop;
    audit.outcome = "dropped";
    return reply;
  }

  Table table;
  bool capped = false;
  const World& w = *world_;
  switch (answer.api) {
    case Api::stock_basic:
      table = w.stock_basic(answer.filter);
      break;
    case Api::trade_cal:
      table = w.trade_cal(answer.exchange, answer.start, answer.end, answer.is_open, true);
      break;
    case Api::daily: {
      // The row cap bounds what one answer returns, after the offset: a page of `limit` rows
      // below the cap is a page, not a truncation.
      const std::size_t page =
          answer.limit > 0 ? std::min(answer.limit, config_.row_cap) : config_.row_cap;
      World::DailyResult r = w.daily_api(select_stocks(w.universe(), answer.filter), answer.start,
                                         answer.end, answer.offset + page);
      table = std::move(r.table);
      capped = r.capped && page == config_.row_cap &&
               (answer.limit == 0 || answer.limit > config_.row_cap);
      break;
    }
  }
  if (answer.offset > 0 || answer.limit > 0) {
    const std::size_t from = std::min(answer.offset, table.rows);
    const std::size_t n =
        answer.limit > 0 ? std::min(answer.limit, table.rows - from) : table.rows - from;
    const std::size_t width = table.columns.size();
    table.cells.erase(table.cells.begin() + static_cast<std::ptrdiff_t>((from + n) * width),
                      table.cells.end());
    table.cells.erase(table.cells.begin(),
                      table.cells.begin() + static_cast<std::ptrdiff_t>(from * width));
    table.rows = n;
  }

  // Selected columns: known names in the requested order, first occurrence wins; none = all.
  std::vector<std::size_t> columns;
  for (const std::string& f : wanted_fields) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) {
      if (table.columns[c] != f) continue;
      bool seen = false;
      for (std::size_t have : columns) seen = seen || have == c;
      if (!seen) columns.push_back(c);
    }
  }
  if (columns.empty()) {
    for (std::size_t c = 0; c < table.columns.size(); ++c) columns.push_back(c);
  }

  std::string& out = reply.body;
  out.reserve(64 + table.rows * 16 * columns.size());
  out += "{\"request_id\":\"";
  out += request_id(req.seq);
  out += "\",\"code\":0,\"msg\":\"\",\"data\":";
  append_json_data(out, table, columns);
  out += "}";
  audit.code = kCodeOk;
  if (verdict.fault == Fault::truncate) {
    reply.fault = Fault::truncate;
    audit.outcome = "truncated";
    audit.rows = 0;
    audit.capped = capped;
  } else {
    audit.outcome = "ok";
    audit.rows = table.rows;
    audit.capped = capped;
  }
  return reply;
}

}  // namespace emu
