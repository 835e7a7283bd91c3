#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "state/task.hpp"

namespace finsync::state {
namespace {

using S = TaskState;

const std::vector<S> kAll = {S::pending, S::running,   S::succeeded, S::failed, S::parked,
                             S::paused,  S::cancelled, S::dead,      S::split};

// The table from the design, written out pair by pair.
const std::set<std::pair<S, S>> kAllowed = {
    {S::pending, S::running},   {S::pending, S::paused},    {S::pending, S::cancelled},
    {S::pending, S::dead},      {S::running, S::succeeded}, {S::running, S::failed},
    {S::running, S::parked},    {S::running, S::pending},   {S::running, S::dead},
    {S::running, S::split},     {S::running, S::cancelled}, {S::running, S::paused},
    {S::failed, S::running},    {S::failed, S::pending},    {S::failed, S::paused},
    {S::failed, S::cancelled},  {S::failed, S::dead},       {S::parked, S::pending},
    {S::parked, S::running},    {S::parked, S::paused},     {S::parked, S::cancelled},
    {S::paused, S::pending},    {S::paused, S::cancelled},  {S::dead, S::pending},
    {S::cancelled, S::pending}, {S::succeeded, S::pending},
};

TEST(StateTask, TransitionTableMatchesDesignForAllPairs) {
  ASSERT_EQ(kAllowed.size(), 26u);
  int allowed = 0;
  for (S from : kAll) {
    for (S to : kAll) {
      const bool expected = kAllowed.count({from, to}) > 0;
      EXPECT_EQ(can_transition(from, to), expected) << to_string(from) << " -> " << to_string(to);
      allowed += can_transition(from, to) ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed, 26);
}

TEST(StateTask, SameStateTransitionsAreRejected) {
  for (S s : kAll) EXPECT_FALSE(can_transition(s, s)) << to_string(s);
}

TEST(StateTask, SampleOfDisallowedTransitions) {
  EXPECT_FALSE(can_transition(S::pending, S::succeeded));  // must run first
  EXPECT_FALSE(can_transition(S::pending, S::failed));
  EXPECT_FALSE(can_transition(S::pending, S::split));
  EXPECT_FALSE(can_transition(S::paused, S::running));  // resume goes through pending
  EXPECT_FALSE(can_transition(S::paused, S::dead));
  EXPECT_FALSE(can_transition(S::parked, S::dead));
  EXPECT_FALSE(can_transition(S::parked, S::succeeded));
  EXPECT_FALSE(can_transition(S::failed, S::succeeded));
  EXPECT_FALSE(can_transition(S::failed, S::split));
  EXPECT_FALSE(can_transition(S::succeeded, S::running));
  EXPECT_FALSE(can_transition(S::succeeded, S::failed));
  EXPECT_FALSE(can_transition(S::dead, S::running));
  EXPECT_FALSE(can_transition(S::cancelled, S::running));
}

TEST(StateTask, SplitIsAFinalDeadEnd) {
  for (S to : kAll) EXPECT_FALSE(can_transition(S::split, to)) << to_string(to);
  EXPECT_TRUE(is_terminal(S::split));
}

TEST(StateTask, SucceededIsTerminalButCanBeRefetched) {
  EXPECT_TRUE(is_terminal(S::succeeded));
  EXPECT_TRUE(can_transition(S::succeeded, S::pending));
  for (S to : kAll) {
    if (to != S::pending) {
      EXPECT_FALSE(can_transition(S::succeeded, to)) << to_string(to);
    }
  }
}

TEST(StateTask, TerminalStatesAreExactlySucceededCancelledDeadSplit) {
  std::set<S> terminal;
  for (S s : kAll) {
    if (is_terminal(s)) terminal.insert(s);
  }
  EXPECT_EQ(terminal, (std::set<S>{S::succeeded, S::cancelled, S::dead, S::split}));
}

TEST(StateTask, NamesAndParsing) {
  EXPECT_EQ(to_string(S::pending), "pending");
  EXPECT_EQ(to_string(S::running), "running");
  EXPECT_EQ(to_string(S::succeeded), "succeeded");
  EXPECT_EQ(to_string(S::failed), "failed");
  EXPECT_EQ(to_string(S::parked), "parked");
  EXPECT_EQ(to_string(S::paused), "paused");
  EXPECT_EQ(to_string(S::cancelled), "cancelled");
  EXPECT_EQ(to_string(S::dead), "dead");
  EXPECT_EQ(to_string(S::split), "split");
  for (S s : kAll) EXPECT_EQ(parse_task_state(to_string(s)), s);
  EXPECT_EQ(parse_task_state(""), std::nullopt);
  EXPECT_EQ(parse_task_state("Pending"), std::nullopt);
  EXPECT_EQ(parse_task_state("canceled"), std::nullopt);
  EXPECT_EQ(parse_task_state("running "), std::nullopt);
}

}  // namespace
}  // namespace finsync::state
