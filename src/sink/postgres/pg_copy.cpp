#include "sink/postgres/pg_copy.hpp"

#include <cstring>

namespace finsync::sink::postgres {
namespace {

// 2000-01-01, PostgreSQL's epoch, in days and microseconds since 1970-01-01.
constexpr int64_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = kEpochDays * 86'400'000'000;

}  // namespace

void CopyEncoder::put16(int16_t v) {
  const uint16_t u = uint16_t(v);
  const char b[2] = {char(u >> 8), char(u)};
  buf_.append(b, 2);
}

void CopyEncoder::put32(int32_t v) {
  const uint32_t u = uint32_t(v);
  const char b[4] = {char(u >> 24), char(u >> 16), char(u >> 8), char(u)};
  buf_.append(b, 4);
}

void CopyEncoder::put64(uint64_t u) {
  const char b[8] = {char(u >> 56), char(u >> 48), char(u >> 40), char(u >> 32),
                     char(u >> 24), char(u >> 16), char(u >> 8),  char(u)};
  buf_.append(b, 8);
}

void CopyEncoder::header() {
  static const char sig[] = "PGCOPY\n\377\r\n";  // 11 bytes with the trailing NUL
  buf_.append(sig, 11);
  put32(0);  // flags
  put32(0);  // header extension length
}

void CopyEncoder::trailer() {
  put16(-1);
}

void CopyEncoder::rows(const RecordBatch& b, size_t begin, size_t end, int64_t* seq) {
  const size_t ncols = b.num_columns();
  const int16_t nfields = int16_t(ncols + (seq ? 1 : 0));
  for (size_t r = begin; r < end; ++r) {
    put16(nfields);
    for (size_t c = 0; c < ncols; ++c) {
      const Column& col = b.column(c);
      if (!col.valid(r)) {
        put32(-1);
        continue;
      }
      switch (col.type()) {
        case DataType::int64:
          put32(8);
          put64(uint64_t(col.int_at(r)));
          break;
        case DataType::float64: {
          uint64_t u;
          const double d = col.double_at(r);
          std::memcpy(&u, &d, 8);
          put32(8);
          put64(u);
          break;
        }
        case DataType::string: {
          const std::string& s = col.string_at(r);
          put32(int32_t(s.size()));
          buf_.append(s);
          break;
        }
        case DataType::date:
          put32(4);
          put32(int32_t(col.int_at(r) - kEpochDays));
          break;
        case DataType::timestamp:
          put32(8);
          put64(uint64_t(col.int_at(r) - kEpochMicros));
          break;
        case DataType::boolean:
          put32(1);
          buf_.push_back(col.int_at(r) != 0 ? 1 : 0);
          break;
      }
    }
    if (seq) {
      put32(8);
      put64(uint64_t((*seq)++));
    }
  }
}

}  // namespace finsync::sink::postgres
