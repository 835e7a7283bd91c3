// JSONL audit log: one line per request received, flushed per line; the token is never written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace emu {

struct AuditRecord {
  double t = 0;  // arrival, unix seconds (microsecond resolution)
  std::uint64_t seq = 0;
  std::optional<std::string> api_name;
  nlohmann::json params;           // null when the request had none / could not be parsed
  std::string fields;              // as sent; a JSON array is joined with commas
  std::string token = "missing";   // "***" when a token was present
  std::string outcome;             // ok, auth, rate_limited_minute, rate_limited_day, bad_request,
                                   // http_error, dropped, truncated, hung
  std::optional<int> code;         // the "code" of the response body
  std::optional<int> http_status;  // null when no status line was sent
  std::size_t rows = 0;
  bool capped = false;
  double latency_ms = 0;
  std::optional<int> weight;  // binance: the request weight charged; written only when set
};

class AuditLog {
 public:
  // Throws std::runtime_error if the file cannot be opened (it is appended to).
  AuditLog(const std::string& path, std::string token);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void write(const AuditRecord& record);

  // The line `write` would produce (without the newline).
  std::string render(const AuditRecord& record) const;

 private:
  std::string redact(const std::string& text) const;
  nlohmann::json redact(const nlohmann::json& value) const;

  std::string token_;
  std::mutex mutex_;
  std::FILE* file_ = nullptr;
};

}  // namespace emu
