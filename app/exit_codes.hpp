#pragma once
// Exit codes (README, "Exit codes"); each is tested.
namespace finsync::app {

enum ExitCode : int {
  kDone = 0,
  kInternal = 1,
  kFailedTasks = 3,
  kIncomplete = 3,  // `verify`: gaps or extra rows
  kUsage = 64,
  kUnreachable = 69,
  kParked = 75,
  kAuth = 77,
  kConfig = 78,
  kInterrupted = 130,
};

}  // namespace finsync::app
