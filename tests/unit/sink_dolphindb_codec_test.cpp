// The dolphindb sink's encoder and decoder, byte for byte: the expected bytes below are written
// out by hand from the protocol (ddb_codec.hpp, ddb_protocol.hpp); the integration test
// sink_dolphindb.sh compares the same encoder with the official npm client's bytes.
#include <gtest/gtest.h>

#include <cfloat>
#include <string>

#include "core/dates.hpp"
#include "sink/dolphindb/ddb_codec.hpp"
#include "sink/dolphindb/ddb_dsn.hpp"
#include "sink/dolphindb/ddb_protocol.hpp"
#include "sink/dolphindb/ddb_rows.hpp"
#include "sink/dolphindb/ddb_script.hpp"

namespace finsync::sink::dolphindb {
namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string encoded(const Object& o) {
  std::string out;
  encode(o, out);
  return out;
}

TEST(SinkDolphindbCodec, ScalarsAsTheProtocolWritesThem) {
  EXPECT_EQ(hex(encoded(Object::string_scalar("ab"))),
            "1200"
            "616200");
  EXPECT_EQ(hex(encoded(Object::bool_scalar(true))),
            "0100"
            "01");
  Object l;
  l.type = Type::long_;
  l.ints = {-2};
  EXPECT_EQ(hex(encoded(l)),
            "0500"
            "feffffffffffffff");
  EXPECT_EQ(hex(encoded(Object{})),
            "0000"
            "00");
}

TEST(SinkDolphindbCodec, TableWithSymbolAndIntColumnsAndNulls) {
  Object sym = Object::vector(Type::symbol);
  sym.strings = {"A", "", "B", "A"};
  Object x = Object::vector(Type::int_);
  x.ints = {7, kNullInt, -1, 0};
  // type void, form table; 4 rows, 2 columns; no table name; the column names
  const std::string table = "0006" + std::string("0400000002000000") + "00" + "73796d00" + "7800";
  // symbol-extended vector of 4 rows: base id 0, base "", "A", "B", then the indices
  const std::string sym_col = "9101" + std::string("0400000001000000") + "0000000003000000" +
                              "0041004200" + "01000000000000000200000001000000";
  // INT vector of 4 rows: 7, null, -1, 0
  const std::string int_col =
      "0401" + std::string("0400000001000000") + "0700000000000080ffffffff00000000";
  EXPECT_EQ(hex(encoded(Object::table({"sym", "x"}, {sym, x}))), table + sym_col + int_col);
}

TEST(SinkDolphindbCodec, DecodesWhatItEncodes) {
  Object s = Object::vector(Type::string);
  s.strings = {"x", "", "\xe6\x97\xa5"};
  Object d = Object::vector(Type::double_);
  d.doubles = {1.5, kNullDouble, -0.0};
  Object ts = Object::vector(Type::timestamp);
  ts.ints = {1704187800123, kNullLong, -1};
  Object b = Object::vector(Type::bool_);
  b.ints = {1, 0, kNullBool};
  Object sym = Object::vector(Type::symbol);
  sym.strings = {"A", "A", ""};
  Object t = Object::table({"s", "d", "ts", "b", "sym"}, {s, d, ts, b, sym});
  t.name = "t1";
  const std::string bytes = encoded(t);
  size_t used = 0;
  auto back = decode(bytes, &used);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(used, bytes.size());
  EXPECT_EQ(back->form, Form::table);
  EXPECT_EQ(back->name, "t1");
  EXPECT_EQ(back->names, (std::vector<std::string>{"s", "d", "ts", "b", "sym"}));
  ASSERT_EQ(back->items.size(), 5u);
  EXPECT_EQ(back->items[0].strings, s.strings);
  EXPECT_EQ(back->items[1].doubles[0], 1.5);
  EXPECT_EQ(back->items[1].doubles[1], -DBL_MAX);
  EXPECT_EQ(back->items[2].ints, ts.ints);
  EXPECT_EQ(back->items[3].ints, b.ints);
  EXPECT_EQ(back->items[4].type, Type::symbol);
  EXPECT_EQ(back->items[4].strings, sym.strings);
  EXPECT_EQ(bytes.size(), used);

  auto cut = decode(std::string_view(bytes).substr(0, bytes.size() - 1));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().kind, ErrorKind::invalid_input);
}

Schema typed_schema() {
  return Schema{{{"sym", DataType::string},
                 {"day", DataType::date},
                 {"note", DataType::string},
                 {"at", DataType::timestamp},
                 {"px", DataType::float64},
                 {"qty", DataType::int64},
                 {"flag", DataType::boolean}}};
}

const std::vector<Type> kTypedTypes{Type::symbol,  Type::date,  Type::string, Type::timestamp,
                                    Type::double_, Type::long_, Type::bool_};

TEST(SinkDolphindbRows, BatchColumnsEncodeAsTheEquivalentObjects) {
  RecordBatch b(typed_schema());
  b.column(0).append_string("AAA");
  b.column(1).append_int(dates::days_from_civil(2024, 1, 2));
  b.column(2).append_string("first");
  b.column(3).append_int(1704187800123000);
  b.column(4).append_double(10.5);
  b.column(5).append_int(100);
  b.column(6).append_int(1);
  b.column(0).append_string("BBB");
  b.column(1).append_int(-1);
  for (size_t c = 2; c < 7; ++c) b.column(c).append_null();

  std::string rows;
  ASSERT_TRUE(encode_rows(b, kTypedTypes, 0, 2, rows));
  std::vector<Object> cols;
  for (Type t : kTypedTypes) cols.push_back(Object::vector(t));
  cols[0].strings = {"AAA", "BBB"};
  cols[1].ints = {19724, -1};  // 2024-01-02, 1969-12-31
  cols[2].strings = {"first", ""};
  cols[3].ints = {1704187800123, kNullLong};  // milliseconds
  cols[4].doubles = {10.5, kNullDouble};
  cols[5].ints = {100, kNullLong};
  cols[6].ints = {1, kNullBool};
  EXPECT_EQ(hex(rows),
            hex(encoded(Object::table({"sym", "day", "note", "at", "px", "qty", "flag"}, cols))));

  // A piece of the batch: only rows [1, 2).
  std::string piece;
  ASSERT_TRUE(encode_rows(b, kTypedTypes, 1, 2, piece));
  auto back = decode(piece);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->size(), 1u);
  EXPECT_EQ(back->items[0].strings, std::vector<std::string>{"BBB"});
}

TEST(SinkDolphindbRows, ValuesDolphinDBWouldReadAsNullAreRefused) {
  auto refused = [](auto fill) {
    RecordBatch b(typed_schema());
    b.column(0).append_string("AAA");
    b.column(1).append_int(0);
    b.column(2).append_string("n");
    b.column(3).append_int(0);
    b.column(4).append_double(1);
    b.column(5).append_int(1);
    b.column(6).append_int(1);
    fill(b);
    std::string out;
    auto r = encode_rows(b, kTypedTypes, 0, b.num_rows(), out);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message;
  };
  auto second_row = [](const char* sym, const char* note, double px, int64_t qty) {
    return [=](RecordBatch& b) {
      b.column(0).append_string(sym);
      b.column(1).append_int(1);
      b.column(2).append_string(note);
      b.column(3).append_int(0);
      b.column(4).append_double(px);
      b.column(5).append_int(qty);
      b.column(6).append_null();
    };
  };
  EXPECT_EQ(refused(second_row("", "n", 1, 1)),
            "row 2, column sym: an empty string in a key column (DolphinDB reads it as null)");
  EXPECT_EQ(refused([](RecordBatch& b) {
              b.column(0).append_string("B");
              b.column(1).append_int(1);
              b.column(2).append_string(std::string("a\0b", 3));
              b.column(3).append_int(0);
              b.column(4).append_double(1);
              b.column(5).append_int(1);
              b.column(6).append_null();
            }),
            "row 2, column note: a string holding a NUL byte (DolphinDB strings end at the first "
            "one)");
  EXPECT_EQ(refused(second_row("B", "n", -DBL_MAX, 1)),
            "row 2, column px: -DBL_MAX (DolphinDB's null DOUBLE)");
  EXPECT_EQ(refused(second_row("B", "n", 1, INT64_MIN)),
            "row 2, column qty: -9223372036854775808 (DolphinDB's null LONG)");
}

TEST(SinkDolphindbProtocol, MessagesAsTheOfficialClientFramesThem) {
  EXPECT_EQ(frame("0", connect_command("admin", "pw")),
            "API2 0 22 / 0_1_4_64\nconnect\nlogin\nadmin\npw");
  EXPECT_EQ(frame("1005", script_command("version()")),
            "API2 1005 16 / 0_1_4_64\nscript\nversion()");
  EXPECT_EQ(frame("7", function_command("tableInsert{t}", 1), "ARGS"),
            "API2 7 28 / 0_1_4_64\nfunction\ntableInsert{t}\n1\n1\nARGS");
  AnswerHeader h;
  ASSERT_TRUE(parse_answer_header("1166953221 1 1", h));
  EXPECT_EQ(h.session, "1166953221");
  EXPECT_EQ(h.objects, 1);
  EXPECT_TRUE(h.little_endian);
  EXPECT_FALSE(parse_answer_header("OK", h));
  EXPECT_FALSE(parse_answer_header("1 x 1", h));
  EXPECT_FALSE(parse_answer_header("1 1 2", h));
}

TEST(SinkDolphindbScript, LiteralsAndNames) {
  EXPECT_EQ(literal("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(symbols({"ts_code", "trade_date"}), "`ts_code`trade_date");
  EXPECT_EQ(date_literal(dates::days_from_civil(2024, 1, 31)), "2024.01.31");
  EXPECT_TRUE(check_name("trade_date", "column"));
  EXPECT_EQ(check_name("1x", "column").error().message,
            "column '1x' is not a DolphinDB name; expected letters, digits and _, starting with a "
            "letter");
  EXPECT_FALSE(check_name("a b", "table"));
  Place dfs{"dfs://m"};
  EXPECT_EQ(dfs.table("daily"), "loadTable(\"dfs://m\", \"daily\")");
  EXPECT_EQ(dfs.exists("daily"), "existsTable(\"dfs://m\", \"daily\")");
  Place mem;
  EXPECT_EQ(mem.table("daily"), "daily");
  EXPECT_EQ(mem.exists("daily"), "defined(\"daily\", SHARED)");
}

TEST(SinkDolphindbDsn, ParsesUserHostAndPort) {
  auto d = parse_dsn("dolphindb://ops@db.example:8900");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->user, "ops");
  EXPECT_EQ(d->host, "db.example");
  EXPECT_EQ(d->port, 8900u);
  EXPECT_EQ(d->where(), "ops@db.example:8900");
  auto def = parse_dsn("dolphindb://127.0.0.1");
  ASSERT_TRUE(def);
  EXPECT_EQ(def->where(), "admin@127.0.0.1:8848");
  auto pw = parse_dsn("dolphindb://u:s%40cret@h:1");
  ASSERT_TRUE(pw);
  EXPECT_EQ(pw->password, "s@cret");
  EXPECT_EQ(parse_dsn("postgresql://h").error().message,
            "the scheme 'postgresql' is not dolphindb; expected dolphindb://user@host:8848");
  EXPECT_EQ(parse_dsn("dolphindb://h:0").error().message,
            "the port '0' is not a number from 1 to 65535");
  EXPECT_FALSE(parse_dsn("dolphindb://h:8848/dfs"));
}

}  // namespace
}  // namespace finsync::sink::dolphindb
