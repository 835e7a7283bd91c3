#pragma once
// PostgreSQL's binary COPY format (docs: "COPY ... BINARY file format"): a header, one tuple per
// row (field count, then per field a length and the value in network byte order, -1 for NULL),
// a trailer. Dates are days and timestamps microseconds since 2000-01-01.
#include <cstdint>
#include <string>

#include "core/record_batch.hpp"

namespace finsync::sink::postgres {

class CopyEncoder {
 public:
  void header();
  // Rows [begin, end) of `batch`, every column; with `seq`, an int8 column after them counting
  // from *seq (the write order, for de-duplicating keys inside one landing).
  void rows(const RecordBatch& batch, size_t begin, size_t end, int64_t* seq);
  void trailer();

  const std::string& data() const { return buf_; }
  void clear() { buf_.clear(); }

 private:
  void put16(int16_t v);
  void put32(int32_t v);
  void put64(uint64_t v);
  std::string buf_;
};

}  // namespace finsync::sink::postgres
