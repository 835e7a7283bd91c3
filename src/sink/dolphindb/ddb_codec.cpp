#include "sink/dolphindb/ddb_codec.hpp"

#include <bit>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

namespace finsync::sink::dolphindb {

static_assert(std::endian::native == std::endian::little,
              "the encoder writes host order and declares it little endian");

namespace {

enum class Storage { none, int8, int32, int64, float64, text };

Storage storage(Type t) {
  switch (t) {
    case Type::bool_:
    case Type::char_:
      return Storage::int8;
    case Type::short_:
      return Storage::none;  // not used by the sink
    case Type::int_:
    case Type::date:
      return Storage::int32;
    case Type::long_:
    case Type::timestamp:
      return Storage::int64;
    case Type::double_:
      return Storage::float64;
    case Type::string:
    case Type::symbol:
      return Storage::text;
    default:
      return Storage::none;
  }
}

void encode_values(const Object& o, std::string& out) {
  switch (storage(o.type)) {
    case Storage::int8:
      for (int64_t v : o.ints) put(out, static_cast<int8_t>(v));
      break;
    case Storage::int32:
      for (int64_t v : o.ints) put(out, static_cast<int32_t>(v));
      break;
    case Storage::int64:
      for (int64_t v : o.ints) put(out, v);
      break;
    case Storage::float64:
      for (double v : o.doubles) put(out, v);
      break;
    case Storage::text:
      for (const auto& s : o.strings) put_cstring(out, s);
      break;
    case Storage::none:
      break;
  }
}

class Decoder {
 public:
  explicit Decoder(const ReadExact& read) : read_(read) {}

  Result<Object> object() {
    uint8_t h[2];
    if (auto r = read_(reinterpret_cast<char*>(h), 2); !r) return fail(r.error());
    Object o;
    o.type = static_cast<Type>(h[0]);
    o.form = static_cast<Form>(h[1]);
    switch (o.form) {
      case Form::scalar:
        if (o.type == Type::void_) {
          uint8_t ignored;
          if (auto r = read_(reinterpret_cast<char*>(&ignored), 1); !r) return fail(r.error());
          return o;
        }
        if (auto r = values(o, 1); !r) return fail(r.error());
        return o;
      case Form::vector:
      case Form::pair:
      case Form::set: {
        uint32_t rows = 0, cols = 0;
        if (auto r = get(rows); !r) return fail(r.error());
        if (auto r = get(cols); !r) return fail(r.error());
        if (o.type == Type::symbol_extended) {
          o.type = Type::symbol;
          if (auto r = symbols(o, rows); !r) return fail(r.error());
          return o;
        }
        if (o.type == Type::any) {
          for (uint32_t i = 0; i < rows; ++i) {
            auto item = object();
            if (!item) return item;
            o.items.push_back(std::move(*item));
          }
          return o;
        }
        if (auto r = values(o, rows); !r) return fail(r.error());
        return o;
      }
      case Form::table: {
        uint32_t rows = 0, cols = 0;
        if (auto r = get(rows); !r) return fail(r.error());
        if (auto r = get(cols); !r) return fail(r.error());
        auto name = cstring();
        if (!name) return fail(name.error());
        o.name = std::move(*name);
        for (uint32_t i = 0; i < cols; ++i) {
          auto n = cstring();
          if (!n) return fail(n.error());
          o.names.push_back(std::move(*n));
        }
        for (uint32_t i = 0; i < cols; ++i) {
          auto c = object();
          if (!c) return c;
          if (c->size() != rows)
            return fail(ErrorKind::invalid_input,
                        fmt::format("table column {} has {} rows, the table {}", o.names[i],
                                    c->size(), rows));
          o.items.push_back(std::move(*c));
        }
        return o;
      }
      default:
        return fail(ErrorKind::invalid_input,
                    fmt::format("cannot decode an object of form {}", int(h[1])));
    }
  }

 private:
  template <class T>
  Result<void> get(T& v) {
    return read_(reinterpret_cast<char*>(&v), sizeof v);
  }

  Result<std::string> cstring() {
    std::string s;
    for (char c;;) {
      if (auto r = read_(&c, 1); !r) return fail(r.error());
      if (c == '\0') return s;
      s.push_back(c);
    }
  }

  Result<void> values(Object& o, size_t n) {
    switch (storage(o.type)) {
      case Storage::int8:
        for (size_t i = 0; i < n; ++i) {
          int8_t v;
          if (auto r = get(v); !r) return r;
          o.ints.push_back(v);
        }
        return {};
      case Storage::int32:
        for (size_t i = 0; i < n; ++i) {
          int32_t v;
          if (auto r = get(v); !r) return r;
          o.ints.push_back(v);
        }
        return {};
      case Storage::int64:
        o.ints.resize(n);
        return read_(reinterpret_cast<char*>(o.ints.data()), n * sizeof(int64_t));
      case Storage::float64:
        o.doubles.resize(n);
        return read_(reinterpret_cast<char*>(o.doubles.data()), n * sizeof(double));
      case Storage::text:
        for (size_t i = 0; i < n; ++i) {
          auto s = cstring();
          if (!s) return fail(s.error());
          o.strings.push_back(std::move(*s));
        }
        return {};
      case Storage::none:
        break;
    }
    return fail(ErrorKind::invalid_input,
                fmt::format("cannot decode values of type {}", type_name(o.type)));
  }

  Result<void> symbols(Object& o, uint32_t rows) {
    uint32_t base_id = 0, base_size = 0;
    if (auto r = get(base_id); !r) return r;
    if (auto r = get(base_size); !r) return r;
    std::vector<std::string> base;
    for (uint32_t i = 0; i < base_size; ++i) {
      auto s = cstring();
      if (!s) return fail(s.error());
      base.push_back(std::move(*s));
    }
    for (uint32_t i = 0; i < rows; ++i) {
      uint32_t id;
      if (auto r = get(id); !r) return r;
      if (id >= base.size())
        return fail(ErrorKind::invalid_input,
                    fmt::format("symbol index {} is outside its base of {}", id, base.size()));
      o.strings.push_back(base[id]);
    }
    return {};
  }

  const ReadExact& read_;
};

}  // namespace

std::string type_name(Type t) {
  switch (t) {
    case Type::void_:
      return "VOID";
    case Type::bool_:
      return "BOOL";
    case Type::char_:
      return "CHAR";
    case Type::short_:
      return "SHORT";
    case Type::int_:
      return "INT";
    case Type::long_:
      return "LONG";
    case Type::date:
      return "DATE";
    case Type::timestamp:
      return "TIMESTAMP";
    case Type::float_:
      return "FLOAT";
    case Type::double_:
      return "DOUBLE";
    case Type::symbol:
      return "SYMBOL";
    case Type::string:
      return "STRING";
    case Type::any:
      return "ANY";
    case Type::symbol_extended:
      return "SYMBOL";
  }
  return fmt::format("type {}", int(t));
}

size_t Object::size() const {
  if (form == Form::table) return items.empty() ? 0 : items[0].size();
  if (type == Type::any) return items.size();
  switch (storage(type)) {
    case Storage::float64:
      return doubles.size();
    case Storage::text:
      return strings.size();
    case Storage::none:
      return 0;
    default:
      return ints.size();
  }
}

Object Object::string_scalar(std::string s) {
  Object o;
  o.type = Type::string;
  o.strings.push_back(std::move(s));
  return o;
}

Object Object::bool_scalar(bool b) {
  Object o;
  o.type = Type::bool_;
  o.ints.push_back(b ? 1 : 0);
  return o;
}

Object Object::vector(Type type) {
  Object o;
  o.form = Form::vector;
  o.type = type;
  return o;
}

Object Object::table(std::vector<std::string> names, std::vector<Object> columns) {
  Object o;
  o.form = Form::table;
  o.names = std::move(names);
  o.items = std::move(columns);
  return o;
}

void encode(const Object& o, std::string& out) {
  switch (o.form) {
    case Form::table:
      put_header(out, Type::void_, Form::table);
      put(out, uint32_t(o.size()));
      put(out, uint32_t(o.items.size()));
      put_cstring(out, o.name);
      for (const auto& n : o.names) put_cstring(out, n);
      for (const auto& c : o.items) encode(c, out);
      return;
    case Form::scalar:
      put_header(out, o.type, Form::scalar);
      if (o.type == Type::void_)
        out.push_back('\0');
      else
        encode_values(o, out);
      return;
    default:
      put_header(out, o.type == Type::symbol ? Type::symbol_extended : o.type, o.form);
      put(out, uint32_t(o.size()));
      put(out, uint32_t{1});
      if (o.type == Type::symbol)
        put_symbols(out, std::vector<std::string_view>(o.strings.begin(), o.strings.end()));
      else if (o.type == Type::any)
        for (const auto& item : o.items) encode(item, out);
      else
        encode_values(o, out);
      return;
  }
}

void put_symbols(std::string& out, std::span<const std::string_view> values) {
  // Index 0 of the base is the empty string (null), as the official clients build it.
  std::unordered_map<std::string_view, uint32_t> index{{"", 0}};
  std::vector<std::string_view> base{""};
  std::vector<uint32_t> ids;
  ids.reserve(values.size());
  for (auto v : values) {
    auto [it, added] = index.emplace(v, uint32_t(base.size()));
    if (added) base.push_back(v);
    ids.push_back(it->second);
  }
  put(out, uint32_t{0});  // base id: a new base
  put(out, uint32_t(base.size()));
  for (auto s : base) put_cstring(out, s);
  out.append(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(uint32_t));
}

Result<Object> decode(const ReadExact& read) {
  return Decoder(read).object();
}

Result<Object> decode(std::string_view bytes, size_t* used) {
  size_t at = 0;
  ReadExact read = [&](char* dst, size_t n) -> Result<void> {
    if (bytes.size() - at < n)
      return fail(ErrorKind::invalid_input,
                  fmt::format("the object ends after {} bytes, inside a value", bytes.size()));
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
    return {};
  };
  auto o = decode(read);
  if (used != nullptr) *used = at;
  return o;
}

}  // namespace finsync::sink::dolphindb
