#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "core/failpoint.hpp"

namespace finsync::failpoint {
namespace {

constexpr size_t kWrite = index_of("sink.inside_staging_write");
constexpr size_t kCommit = index_of("sink.after_commit_before_checkpoint");

struct Disarm {
  ~Disarm() { (void)configure(""); }
};

TEST(FailpointTest, UnarmedSitesPassAndCountNothing) {
  Disarm d;
  ASSERT_TRUE(configure(""));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(FINSYNC_FAILPOINT("sink.inside_staging_write"));
  EXPECT_EQ(hits(kWrite), 0);
}

TEST(FailpointTest, ErrorFiresOnceAtTheNthHit) {
  Disarm d;
  ASSERT_TRUE(configure("sink.inside_staging_write:error@3"));
  EXPECT_TRUE(FINSYNC_FAILPOINT("sink.inside_staging_write"));
  EXPECT_TRUE(FINSYNC_FAILPOINT("sink.inside_staging_write"));
  auto third = FINSYNC_FAILPOINT("sink.inside_staging_write");
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().kind, ErrorKind::internal);
  EXPECT_NE(third.error().message.find("sink.inside_staging_write hit 3"), std::string::npos);
  EXPECT_TRUE(FINSYNC_FAILPOINT("sink.inside_staging_write"));
  EXPECT_EQ(hits(kWrite), 4);
  // Other failpoints are counted while anything is armed, and pass.
  EXPECT_TRUE(FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint"));
  EXPECT_EQ(hits(kCommit), 1);
}

TEST(FailpointTest, KillSendsSigkillAtTheNthHit) {
  Disarm d;
  EXPECT_EXIT(
      {
        (void)configure("sink.after_commit_before_checkpoint:kill@2");
        (void)FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint");
        (void)FINSYNC_FAILPOINT("sink.after_commit_before_checkpoint");
        std::exit(0);
      },
      testing::KilledBySignal(SIGKILL), "failpoint sink.after_commit_before_checkpoint hit 2");
}

TEST(FailpointTest, BadSpecsNameTheKnownFailpoints) {
  Disarm d;
  for (const char* spec :
       {"sink.nope:kill", "state.inside_task_write", "state.inside_task_write:boom",
        "state.inside_task_write:kill@0", "state.inside_task_write:kill@x"}) {
    auto r = configure(spec);
    ASSERT_FALSE(r) << spec;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    for (const Point& p : kPoints)
      EXPECT_NE(r.error().message.find(p.name), std::string::npos) << spec;
  }
}

TEST(FailpointTest, SeveralPointsInOneSpec) {
  Disarm d;
  ASSERT_TRUE(configure("engine.fetched_not_landed:kill@5,sink.inside_staging_write:error"));
  EXPECT_FALSE(FINSYNC_FAILPOINT("sink.inside_staging_write"));
  EXPECT_TRUE(FINSYNC_FAILPOINT("engine.fetched_not_landed"));
}

}  // namespace
}  // namespace finsync::failpoint
