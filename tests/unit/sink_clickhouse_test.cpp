// The clickhouse sink without a server: RowBinary bytes of every type and NULL, the type mapping,
// URL parsing (secrets masked), TabSeparated answers, the error classes of server texts (18.16's
// and current servers'), and the spec checks of the factory. With FINSYNC_TEST_CLICKHOUSE_URL
// (required: the suite fails without it): each type lands and reads back, values a column
// cannot hold are refused before anything is sent. End to end: tests/integration/
// sink_clickhouse*.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/dates.hpp"
#include "core/secrets.hpp"
#include "db_sink_rows.hpp"
#include "sink/clickhouse/ch_http.hpp"
#include "sink/clickhouse/ch_sql.hpp"
#include "sink/clickhouse/ch_types.hpp"
#include "sink/clickhouse/ch_url.hpp"
#include "sink/registry.hpp"

namespace finsync::sink {
namespace {

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

using test::all_types;

TEST(SinkClickhouseTypes, EachSchemaTypeHasOneColumnTypeOn18And16AndLater) {
  EXPECT_EQ(clickhouse::column_type(DataType::int64), "Int64");
  EXPECT_EQ(clickhouse::column_type(DataType::float64), "Float64");
  EXPECT_EQ(clickhouse::column_type(DataType::string), "String");
  EXPECT_EQ(clickhouse::column_type(DataType::date), "Date");
  EXPECT_EQ(clickhouse::column_type(DataType::timestamp), "Int64");  // ms since the epoch
  EXPECT_EQ(clickhouse::column_type(DataType::boolean), "UInt8");
  EXPECT_EQ(clickhouse::nullable_type(DataType::date), "Nullable(Date)");
  bool nullable = false;
  EXPECT_EQ(clickhouse::strip_nullable("Nullable(Float64)", nullable), "Float64");
  EXPECT_TRUE(nullable);
  EXPECT_EQ(clickhouse::strip_nullable("String", nullable), "String");
  EXPECT_FALSE(nullable);
  EXPECT_EQ(dates::format(clickhouse::last_date(), "%Y-%m-%d"), "2105-12-31");
}

TEST(SinkClickhouseRowBinary, EncodesEveryTypeLittleEndianWithNullBytesForNullableColumns) {
  RecordBatch b(all_types());
  b.column(0).append_string("AB");
  b.column(1).append_int(dates::days_from_civil(2024, 2, 29));  // 19782 = 0x4d46
  b.column(2).append_int(int64_t(1'700'000'000'123) * 1000);    // ms 0x18bcfe5687b
  b.column(3).append_double(1.5);                               // 0x3ff8000000000000
  b.column(4).append_int(-2);
  b.column(5).append_int(1);
  // Row 2: NULLs in the nullable columns, a string of 200 bytes (two-byte length).
  b.column(0).append_string(std::string(200, 'x'));
  b.column(1).append_int(0);
  b.column(2).append_null();
  b.column(3).append_null();
  b.column(4).append_null();
  b.column(5).append_int(0);
  // sym and day are the key (not Nullable), the rest Nullable.
  const std::vector<bool> nullable = {false, false, true, true, true, true};
  std::string out;
  clickhouse::append_rows(b, 0, 1, nullable, out);
  EXPECT_EQ(hex(out),
            "024142"  // String: length 2, "AB"
            "464d"    // Date: UInt16 19782
            "00"
            "7b68e5cf8b010000"  // Nullable(Int64) not null, 1700000000123 ms
            "00"
            "000000000000f83f"  // Nullable(Float64) 1.5
            "00"
            "feffffffffffffff"  // Nullable(Int64) -2
            "00"
            "01");  // Nullable(UInt8) true
  out.clear();
  clickhouse::append_rows(b, 1, 2, nullable, out);
  EXPECT_EQ(hex(out), "c801" + hex(std::string(200, 'x')) + "0000" + "01" + "01" + "01" + "0000");
  // Rows [0, 2) is the two rows one after the other.
  std::string both;
  clickhouse::append_rows(b, 0, 2, nullable, both);
  std::string first;
  clickhouse::append_rows(b, 0, 1, nullable, first);
  EXPECT_EQ(both, first + out);
}

TEST(SinkClickhouseRowBinary, KeepsNanAndInfinityBitForBit) {
  RecordBatch b(Schema{{{"x", DataType::float64}}});
  b.column(0).append_double(std::numeric_limits<double>::infinity());
  b.column(0).append_double(-0.0);
  std::string out;
  clickhouse::append_rows(b, 0, 2, {false}, out);
  EXPECT_EQ(hex(out),
            "000000000000f07f"
            "0000000000000080");
}

TEST(SinkClickhouseUrl, ParsesEveryPartAndMasksThePassword) {
  auto u =
      clickhouse::parse_url("http://fin%40sync:p%3Aw-ChSecret-7@ch.example:18123/?database=market");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->user, "fin@sync");
  EXPECT_EQ(u->password, "p:w-ChSecret-7");
  EXPECT_EQ(u->host, "ch.example");
  EXPECT_EQ(u->port, 18123u);
  EXPECT_EQ(u->database, "market");
  EXPECT_EQ(u->base(), "http://ch.example:18123/");
  EXPECT_EQ(u->where(), "fin@sync@ch.example:18123/market");
  EXPECT_EQ(secrets::mask("x p:w-ChSecret-7 y").find("p:w-ChSecret-7"), std::string::npos);

  u = clickhouse::parse_url("https://[::1]");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->user, "default");
  EXPECT_EQ(u->port, 8443u);
  EXPECT_EQ(u->database, "default");
  EXPECT_EQ(u->base(), "https://[::1]:8443/");
  EXPECT_EQ(clickhouse::parse_url("http://h")->port, 8123u);
}

TEST(SinkClickhouseUrl, RejectsWhatIsNotAClickhouseHttpUrl) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"clickhouse://u@h:9000/db", "the scheme 'clickhouse' is not http or https"},
      {"http://u@h/market",
       "the path '/market' is not /: ClickHouse takes the database as "
       "?database="},
      {"http://u@h/?db=x", "'db' is not a query key of clickhouse urls; expected database"},
      {"http://u@h/?database=", "?database= names no database"},
      {"http://u@h:0/", "the port '0' is not a number from 1 to 65535"},
  };
  for (const auto& [url, says] : cases) {
    auto u = clickhouse::parse_url(url);
    ASSERT_FALSE(u) << url;
    EXPECT_EQ(u.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(u.error().message.find(says), std::string::npos) << url << ": " << u.error().message;
  }
}

TEST(SinkClickhouseSql, QuotesNamesAndLiteralsAndReadsTabSeparatedBack) {
  EXPECT_EQ(clickhouse::quote_name("we`ird\\"), "`we\\`ird\\\\`");
  EXPECT_EQ(clickhouse::literal("it's \\"), "'it\\'s \\\\'");
  auto rows = clickhouse::parse_tsv("a\\tb\tc\\\\d\n\t\\N\nlast");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a\tb", "c\\d"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"", "N"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"last"}));
  EXPECT_TRUE(clickhouse::parse_tsv("").empty());
}

TEST(SinkClickhouseErrors, ServerCodesOf18And16AndCurrentServersHaveTheirKinds) {
  EXPECT_EQ(clickhouse::code_of("Code: 193, e.displayText() = DB::Exception: Wrong password for "
                                "user default, e.what() = DB::Exception\n"),
            193);
  EXPECT_EQ(clickhouse::code_of("Code: 516. DB::Exception: default: Authentication failed. "
                                "(AUTHENTICATION_FAILED) (version 23.8.1.1)"),
            516);
  EXPECT_EQ(clickhouse::code_of("502 Bad Gateway"), 0);
  EXPECT_EQ(clickhouse::kind_of_code(193), ErrorKind::auth);
  EXPECT_EQ(clickhouse::kind_of_code(516), ErrorKind::auth);
  EXPECT_EQ(clickhouse::kind_of_code(192), ErrorKind::auth);
  EXPECT_EQ(clickhouse::kind_of_code(252), ErrorKind::transient);     // TOO_MANY_PARTS
  EXPECT_EQ(clickhouse::kind_of_code(210), ErrorKind::transient);     // NETWORK_ERROR
  EXPECT_EQ(clickhouse::kind_of_code(81), ErrorKind::invalid_input);  // UNKNOWN_DATABASE
  EXPECT_EQ(clickhouse::kind_of_code(33), ErrorKind::invalid_input);  // CANNOT_READ_ALL_DATA
  EXPECT_EQ(clickhouse::kind_of_code(60), ErrorKind::permanent);      // UNKNOWN_TABLE
}

TEST(SinkClickhouseSpec, TheFactoryChecksItsKeysAndTheBlockLimit) {
  SinkRegistry reg;
  register_builtin_sinks(reg);
  SinkSpec spec;
  spec.kind = "clickhouse";
  auto none = reg.create(spec, SinkContext{});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("a clickhouse sink needs a url"), std::string::npos)
      << none.error().message;
  spec.options["url"] = "http://h/";
  spec.dsn = "http://h/";
  auto both = reg.create(spec, SinkContext{});
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("give the server as url or as dsn, not both"),
            std::string::npos);
  spec.dsn.clear();
  spec.batch_size = 1'048'577;
  auto big = reg.create(spec, SinkContext{});
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("1048577 is above 1048576, the most rows one ClickHouse "
                                     "insert block holds"),
            std::string::npos)
      << big.error().message;
  spec.batch_size = 1'048'576;
  EXPECT_TRUE(reg.create(spec, SinkContext{}));
  spec.options["load"] = "infile";
  auto unknown = reg.create(spec, SinkContext{});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("'load' is not an option of clickhouse sinks"),
            std::string::npos)
      << unknown.error().message;
}

}  // namespace
}  // namespace finsync::sink
