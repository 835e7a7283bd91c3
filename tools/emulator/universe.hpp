// The stock universe: a pure function of (seed, number of symbols).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "calendar.hpp"

namespace emu {

struct Stock {
  std::string ts_code;  // e.g. 600000.SH
  std::string symbol;   // e.g. 600000
  std::string name;
  std::string area;
  std::string industry;
  std::string market;
  std::string exchange;     // SSE or SZSE
  std::string list_status;  // "L", "D" or "P"
  int list_date = 0;        // YYYYMMDD, an open day
  int delist_date = 0;      // YYYYMMDD or 0 (null) unless list_status is D
  int suspend_from = 0;     // P only: no daily rows on or after this open day (not exposed)

  // Daily-bar model parameters.
  std::uint64_t key = 0;
  double base = 0;  // price level in yuan
  double period1 = 0, phase1 = 0, period2 = 0, phase2 = 0;

  // Open-index range in which rows may exist: [first_open, end_open).
  std::size_t first_open = 0;
  std::size_t end_open = 0;
};

class Universe {
 public:
  static constexpr int kMaxSymbols = 5000;  // every board holds at least 500 codes

  Universe(std::uint64_t seed, int symbols, const Calendar& calendar);

  // Sorted by ts_code.
  const std::vector<Stock>& stocks() const { return stocks_; }
  const Stock* find(std::string_view ts_code) const;

 private:
  std::vector<Stock> stocks_;
  std::unordered_map<std::string, std::size_t> by_code_;
};

// Which stocks a query is about. Empty members mean "no restriction".
struct StockFilter {
  std::vector<std::string> codes;
  std::string statuses;  // characters among L, D, P; a filter that matches nothing holds "-"
  std::string exchange;  // SSE, SZSE; any other non-empty value matches nothing
};

// Matching stocks in ts_code order, without duplicates.
std::vector<const Stock*> select_stocks(const Universe& universe, const StockFilter& filter);

}  // namespace emu
