// rate_limits in provider files and per-account overrides in finsync.yaml: every window kind,
// weights by parameter, and errors with file:line:col.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "config/provider_def.hpp"
#include "config/workspace.hpp"
#include "engine/estimate.hpp"
#include "engine/limits.hpp"

using namespace finsync;
using namespace finsync::config;
using namespace std::chrono_literals;

namespace {

std::string provider_with(const std::string& limits) {
  return R"(provider: x
base_url: http://127.0.0.1:1
rows: { kind: objects, items: $.data }
rate_limits:
)" + limits +
         R"(endpoints:
  depth:
    weight: { param: limit, default: 100, steps: [[100, 5], [500, 25], [1000, 50], [5000, 250]] }
    columns: { sym: string }
    primary_key: [sym]
  klines:
    weight: 2
    columns: { sym: string }
    primary_key: [sym]
)";
}

std::string error_of(const std::string& limits) {
  auto p = parse_provider(provider_with(limits), "providers/x.yaml");
  EXPECT_FALSE(p.has_value());
  return p ? "" : p.error().message;
}

}  // namespace

TEST(RateLimitConfig, EveryWindowKindParses) {
  auto p = parse_provider(
      provider_with(R"(  - { limit: 6000, per: 1m, align: epoch, used_header: X-MBX-USED-WEIGHT-1M }
  - { scope: endpoint, endpoint: klines, limit: 10, per: 1s }
  - { scope: ip, limit: 61000, per: 5m }
  - { limit: 10000, per: 1d, reset: "00:00 Asia/Shanghai" }
  - { limit: 200, per: 1m, limit_in_message: "每分钟最多访问该接口(\\d+)次" }
)"),
      "providers/x.yaml");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  WorkspaceDef ws;
  const auto limits = engine::account_limits(*p, ws);
  ASSERT_EQ(limits.windows.size(), 5u);
  EXPECT_EQ(limits.account, "default");
  EXPECT_EQ(limits.windows[0].name(), "default 6000/1m@epoch");
  EXPECT_EQ(limits.windows[0].used_header, "X-MBX-USED-WEIGHT-1M");
  EXPECT_FALSE(limits.windows[0].quota);
  EXPECT_EQ(limits.windows[1].name(), "default klines 10/1s");
  EXPECT_EQ(limits.windows[2].name(), "61000/5m");  // every account on this machine
  EXPECT_EQ(limits.windows[3].name(), "default 10000/1d@00:00 Asia/Shanghai");
  EXPECT_TRUE(limits.windows[3].quota);  // a day: spent means park
  EXPECT_TRUE(limits.defs[4].limit_in_message_re.has_value());

  const EndpointDef& depth = *p->endpoint("depth");
  EXPECT_EQ(depth.weight_for({}), 5);
  EXPECT_EQ(depth.weight_for({{"symbol", "BTCUSDT"}, {"limit", "500"}}), 25);
  EXPECT_EQ(depth.weight_for({{"limit", "501"}}), 50);
  EXPECT_EQ(depth.weight_for({{"limit", "5000"}}), 250);
  EXPECT_EQ(p->endpoint("klines")->weight_for({{"limit", "1000"}}), 2);
}

TEST(RateLimitConfig, ErrorsNamePositionAndExpectation) {
  EXPECT_EQ(error_of("  - { limit: 5, per: 1d, reset: \"00:00 Asia/Shangai\" }\n"),
            "providers/x.yaml:5:33: rate_limits[0].reset: '00:00 Asia/Shangai': unknown time zone "
            "'Asia/Shangai'; expected \"HH:MM Area/City\" such as \"00:00 Asia/Shanghai\"");
  EXPECT_EQ(error_of("  - { limit: 5, per: 7h, reset: \"00:00 UTC\" }\n"),
            "providers/x.yaml:5:22: rate_limits[0].per: value '7h' is not valid with `reset`: "
            "expected a period that divides a day (1d, 12h, 1h, ...)");
  EXPECT_EQ(error_of("  - { limit: 5, per: 1m, align: calendar }\n"),
            "providers/x.yaml:5:33: rate_limits[0].align: value 'calendar' is not valid: expected "
            "one of sliding, epoch");
  EXPECT_EQ(error_of("  - { limit: 5, per: 1m, limit_in_message: \"at most \\\\d+\" }\n"),
            "providers/x.yaml:5:44: rate_limits[0].limit_in_message: value 'at most \\d+' is not "
            "valid: expected exactly one capture group (the number)");
}

TEST(RateLimitConfig, AccountOverridesWindowsAndLabel) {
  const auto dir = std::filesystem::temp_directory_path() / "finsync-accounts-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "finsync.yaml") << R"(accounts:
  x:
    account: pro
    max_in_flight: 3
    rate_limits:
      - { limit: 500, per: 1m }
      - { limit: 40, per: 30s, align: epoch, quota: true }
)";
  auto ws = load_workspace(dir.string());
  ASSERT_TRUE(ws.has_value()) << ws.error().message;
  auto p = parse_provider(provider_with("  - { limit: 200, per: 1m }\n"), "providers/x.yaml");
  ASSERT_TRUE(p.has_value());
  const auto limits = engine::account_limits(*p, *ws);
  EXPECT_EQ(limits.account, "pro");
  EXPECT_EQ(limits.max_in_flight, 3);
  ASSERT_EQ(limits.windows.size(), 2u);
  EXPECT_EQ(limits.windows[0].name(), "pro 500/1m");
  EXPECT_EQ(limits.windows[1].name(), "pro 40/30s@epoch");
  EXPECT_TRUE(limits.windows[1].quota);

  std::ofstream(dir / "finsync.yaml") << "accounts:\n  x:\n    acount: pro\n";
  auto bad = load_workspace(dir.string());
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("finsync.yaml:3:5: accounts.x: unknown key 'acount'"),
            std::string::npos)
      << bad.error().message;
  std::filesystem::remove_all(dir);
}

TEST(RateLimitConfig, EstimatePacesByTheBindingWindow) {
  ratelimit::WindowSpec minute;
  minute.limit = 200;
  minute.per = 1min;
  ratelimit::WindowSpec day = minute;
  day.limit = 10000;
  day.per = 24h;
  day.align = ratelimit::Align::clock;
  day.zone = "Asia/Shanghai";
  ratelimit::WindowSpec other = minute;
  other.endpoint = "trade_cal";
  other.limit = 1;
  engine::Estimate e;
  e.requests = 25000;
  engine::pace(e, {minute, day, other}, "daily");
  EXPECT_EQ(e.seconds, 2 * 86400.0);  // three quota days: two full days of waiting
  EXPECT_EQ(e.binding, "10000/1d@00:00 Asia/Shanghai");
  ASSERT_EQ(e.per_window.size(), 2u);  // trade_cal's window does not apply
  EXPECT_EQ(e.per_window[0].second, 124 * 60.0);
  e.weight = 2;  // Binance klines: 6000 weight a minute is 3000 requests
  e.requests = 6001;
  minute.limit = 6000;
  engine::pace(e, {minute}, "klines");
  EXPECT_EQ(e.seconds, 120.0);
}
