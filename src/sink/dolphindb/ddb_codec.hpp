#pragma once
// DolphinDB's serialization of objects (the API protocol's payload): a two-byte header (type,
// form), then the body, little endian. Only the forms and types the sink sends or reads back are
// here: scalars and vectors of BOOL, INT, LONG, DATE, TIMESTAMP, DOUBLE, STRING and SYMBOL (sent
// as a symbol-extended vector: a base of distinct strings, then one index per row, as the
// official clients send it), ANY vectors and tables.
//
// Nulls are in-band, as DolphinDB stores them: the smallest value of each integer type and
// -DBL_MAX for DOUBLE; an empty string is a null STRING or SYMBOL.
#include <cfloat>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace finsync::sink::dolphindb {

enum class Type : uint8_t {
  void_ = 0,
  bool_ = 1,
  char_ = 2,
  short_ = 3,
  int_ = 4,
  long_ = 5,
  date = 6,
  timestamp = 12,
  float_ = 15,
  double_ = 16,
  symbol = 17,
  string = 18,
  any = 25,
  symbol_extended = 145,  // 128 + symbol
};

enum class Form : uint8_t {
  scalar = 0,
  vector = 1,
  pair = 2,
  matrix = 3,
  set = 4,
  dict = 5,
  table = 6
};

constexpr int8_t kNullBool = INT8_MIN;
constexpr int32_t kNullInt = INT32_MIN;
constexpr int64_t kNullLong = INT64_MIN;
constexpr double kNullDouble = -DBL_MAX;

// The type's name as DolphinDB spells it ("DOUBLE"); "type N" for one not listed above.
std::string type_name(Type t);

// A decoded (or to-be-encoded) object. Scalars are vectors of one value with form scalar.
struct Object {
  Form form = Form::scalar;
  Type type = Type::void_;
  std::vector<int64_t> ints;         // BOOL, CHAR, SHORT, INT, LONG, DATE, TIMESTAMP
  std::vector<double> doubles;       // FLOAT, DOUBLE
  std::vector<std::string> strings;  // STRING, SYMBOL
  std::vector<Object> items;         // ANY vector items; table columns
  std::vector<std::string> names;    // table column names
  std::string name;                  // table name

  size_t size() const;
  bool is_void() const { return form == Form::scalar && type == Type::void_; }

  static Object string_scalar(std::string s);
  static Object bool_scalar(bool b);
  static Object vector(Type type);  // empty; fill ints, doubles or strings
  static Object table(std::vector<std::string> names, std::vector<Object> columns);
};

// Appends the encoding of `o`. SYMBOL vectors go as symbol-extended vectors.
void encode(const Object& o, std::string& out);

// Where decode() reads from: exactly n bytes, or an error (transient for a broken connection).
using ReadExact = std::function<Result<void>(char* dst, size_t n)>;

// Reads one object. invalid_input for a form or type it does not know (nothing after it can be
// read reliably: the caller drops the connection).
Result<Object> decode(const ReadExact& read);

// decode() over a buffer; `used` gets the bytes it took.
Result<Object> decode(std::string_view bytes, size_t* used = nullptr);

// Little-endian helpers shared with the table encoder.
template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
inline void put_header(std::string& out, Type t, Form f) {
  out.push_back(static_cast<char>(t));
  out.push_back(static_cast<char>(f));
}
inline void put_cstring(std::string& out, std::string_view s) {
  out.append(s);
  out.push_back('\0');
}
// The body of a symbol-extended vector: its base of distinct values, then one index per value.
void put_symbols(std::string& out, std::span<const std::string_view> values);

}  // namespace finsync::sink::dolphindb
