// Pieces the GET-style personalities (alphavantage, polygon, binance) share.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "chaos.hpp"
#include "personality.hpp"
#include "query_string.hpp"

namespace emu {

// The query parameters for the audit log, with the values of `secrets` (e.g. "apikey")
// replaced by "***" so a key, right or wrong, never reaches the log.
nlohmann::json audit_params(const QueryParams& params,
                            std::initializer_list<std::string_view> secrets);

// Applies a chaos verdict that replaces the answer (HTTP error or drop). Returns true if it
// did; a truncation is applied by `finish_fault` once the body exists.
bool apply_replacing_fault(ChaosVerdict& verdict, HttpReply& reply);
// Marks the reply truncated if the verdict says so (outcome "truncated", rows 0).
void finish_fault(const ChaosVerdict& verdict, HttpReply& reply);

// 32 lowercase hex digits, different per request and per server run (Polygon's request_id).
std::string hex_request_id(std::uint64_t seq);

// Appends hundredths as a decimal with `decimals` (>= 2) digits: 1050 -> "10.50000000".
void append_scaled(std::string& out, std::int64_t hundredths, int decimals);

}  // namespace emu
