// The plan fingerprint (stored with the plan; a change needs --replan): a database sink's DSN is
// part of it, a password written inside the DSN is not, and plans without a DSN keep the
// fingerprint (and so the landing key) they had before DSNs existed.
#include <gtest/gtest.h>

#include "config/plan_def.hpp"
#include "engine/backfill.hpp"

namespace finsync::engine {
namespace {

config::PlanDef plan_with_sink(const std::string& sink) {
  auto p = config::parse_plan(
      "name: p\nprovider: tushare\nendpoint: daily\nuniverse: { symbols: [A] }\n"
      "range: { start: 2020-01-01, end: 2020-12-31 }\nsink: " +
          sink + "\n",
      "p.yaml");
  EXPECT_TRUE(p) << p.error().message;
  return p ? *p : config::PlanDef{};
}

TEST(PlanFingerprint, HoldsTheDsnButNotItsPassword) {
  EXPECT_EQ(plan_fingerprint(plan_with_sink("{ kind: parquet, path: out }")),
            "provider=tushare;endpoint=daily;sink=parquet;path=out;table=daily;mode=upsert");
  EXPECT_EQ(plan_fingerprint(plan_with_sink(
                "{ kind: postgres, dsn: \"postgresql://u:s3cr%40t@db:5432/market\" }")),
            "provider=tushare;endpoint=daily;sink=postgres;path=;table=daily;mode=upsert;"
            "dsn=postgresql://u@db:5432/market");
  EXPECT_EQ(plan_fingerprint(plan_with_sink(
                "{ kind: postgres, dsn: \"host=db password=s3cret dbname=market\" }")),
            "provider=tushare;endpoint=daily;sink=postgres;path=;table=daily;mode=upsert;"
            "dsn=host=db dbname=market");
  EXPECT_EQ(plan_fingerprint(plan_with_sink("{ kind: postgres, dsn: \"${PG_DSN}\" }")),
            "provider=tushare;endpoint=daily;sink=postgres;path=;table=daily;mode=upsert;"
            "dsn=${PG_DSN}");
}

}  // namespace
}  // namespace finsync::engine
