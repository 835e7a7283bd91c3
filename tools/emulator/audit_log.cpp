#include "audit_log.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace emu {

namespace {
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
}  // namespace

AuditLog::AuditLog(const std::string& path, std::string token) : token_(std::move(token)) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) throw std::runtime_error("cannot open audit log " + path);
}

AuditLog::~AuditLog() {
  if (file_ != nullptr) std::fclose(file_);
}

std::string AuditLog::redact(const std::string& text) const {
  if (!token_.empty() && text.find(token_) != std::string::npos) return "***";
  return text;
}

nlohmann::json AuditLog::redact(const nlohmann::json& value) const {
  if (value.is_string()) return redact(value.get_ref<const std::string&>());
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : value) out.push_back(redact(v));
    return out;
  }
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : value.items()) out[redact(k)] = redact(v);
    return out;
  }
  return value;
}

std::string AuditLog::render(const AuditRecord& r) const {
  const auto micros = static_cast<std::int64_t>(std::llround(r.t * 1e6));
  std::string line = fmt::format("{{\"t\":{}.{:06d},\"seq\":{},\"api_name\":", micros / 1000000,
                                 micros % 1000000, r.seq);
  line += r.api_name ? dump(nlohmann::json(redact(*r.api_name))) : "null";
  line += ",\"params\":";
  line += dump(redact(r.params));
  line += ",\"fields\":";
  line += dump(nlohmann::json(redact(r.fields)));
  line += fmt::format(",\"token\":\"{}\",\"outcome\":\"{}\",\"code\":",
                      r.token == "***" ? "***" : "missing", r.outcome);
  line += r.code ? std::to_string(*r.code) : "null";
  line += ",\"http_status\":";
  line += r.http_status ? std::to_string(*r.http_status) : "null";
  line += fmt::format(",\"rows\":{},\"capped\":{},\"latency_ms\":{:.3f}", r.rows,
                      r.capped ? "true" : "false", r.latency_ms);
  if (r.weight) line += fmt::format(",\"weight\":{}", *r.weight);
  line += '}';
  return line;
}

void AuditLog::write(const AuditRecord& record) {
  std::string line = render(record);
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace emu
