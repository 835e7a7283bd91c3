#include "rest_common.hpp"

#include <chrono>

#include <fmt/format.h>

#include "hash.hpp"
#include "table.hpp"

namespace emu {

namespace {
const std::uint64_t kBootNonce =
    static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}  // namespace

nlohmann::json audit_params(const QueryParams& params,
                            std::initializer_list<std::string_view> secrets) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : params) {
    bool secret = false;
    for (std::string_view s : secrets) secret = secret || k == s;
    out[k] = secret ? std::string("***") : v;
  }
  return out;
}

bool apply_replacing_fault(ChaosVerdict& verdict, HttpReply& reply) {
  if (verdict.fault == Fault::http_error) {
    reply.fault = Fault::http_error;
    reply.http_status = verdict.http_status;
    reply.content_type = verdict.content_type;
    reply.body = std::move(verdict.body);
    reply.audit.outcome = "http_error";
    return true;
  }
  if (verdict.fault == Fault::drop) {
    reply.fault = Fault::drop;
    reply.audit.outcome = "dropped";
    return true;
  }
  return false;
}

void finish_fault(const ChaosVerdict& verdict, HttpReply& reply) {
  if (verdict.fault != Fault::truncate) return;
  reply.fault = Fault::truncate;
  reply.audit.outcome = "truncated";
  reply.audit.rows = 0;
}

std::string hex_request_id(std::uint64_t seq) {
  return fmt::format("{:016x}{:016x}", hash_of({kBootNonce, seq, 3}),
                     hash_of({kBootNonce, seq, 4}));
}

void append_scaled(std::string& out, std::int64_t hundredths, int decimals) {
  append_cents(out, hundredths);
  out.append(static_cast<std::size_t>(decimals - 2), '0');
}

}  // namespace emu
