#include "truth.hpp"

#include <cstdio>
#include <string>

#include "world.hpp"

namespace emu {

namespace {

class Output {
 public:
  ~Output() { flush(); }
  std::string& buffer() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= (1u << 20)) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size()) {
      failed_ = true;
    }
    buf_.clear();
  }
  bool ok() {
    flush();
    return !failed_ && std::fflush(stdout) == 0;
  }

 private:
  std::string buf_;
  bool failed_ = false;
};

void write_table(Output& out, const Table& table) {
  append_csv_header(out.buffer(), table.columns);
  const std::size_t width = table.columns.size();
  for (std::size_t r = 0; r < table.rows; ++r) {
    append_csv_row(out.buffer(), std::span<const Cell>(table.cells.data() + r * width, width));
    out.maybe_flush();
  }
}

}  // namespace

int run_truth(const TruthOptions& o) {
  const World world(o.seed, o.symbols, o.last_date);
  StockFilter filter;
  filter.codes = o.ts_codes;
  filter.statuses = o.list_status;
  filter.exchange = o.exchange;

  Output out;
  if (o.api == "stock_basic") {
    write_table(out, world.stock_basic(filter));
  } else if (o.api == "trade_cal") {
    write_table(
        out, world.trade_cal(o.exchange.empty() ? "SSE" : o.exchange, o.start, o.end, -1, false));
  } else {
    append_csv_header(out.buffer(), kDailyColumns);
    world.daily_truth(select_stocks(world.universe(), filter), o.start, o.end,
                      [&](std::span<const Cell> row) {
                        append_csv_row(out.buffer(), row);
                        out.maybe_flush();
                      });
  }
  if (!out.ok()) {
    std::fprintf(stderr, "finsync-emulator: error writing to stdout\n");
    return 1;
  }
  return 0;
}

}  // namespace emu
