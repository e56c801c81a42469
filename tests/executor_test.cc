// The workers that run the work that must block (server/verbs/executor.h).
#include "server/verbs/executor.h"

#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace protomodel::server {
namespace {

TEST(ExecutorTest, RunsTasksAndRefusesPastItsQueue) {
  Executor executor(1, 2);
  absl::Notification release;
  absl::Notification started;
  ASSERT_TRUE(executor.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();
  int ran = 0;
  absl::Mutex mu;
  auto count = [&] {
    absl::MutexLock lock(&mu);
    ++ran;
  };
  EXPECT_TRUE(executor.Submit(count));
  EXPECT_TRUE(executor.Submit(count));
  EXPECT_EQ(executor.queued(), 2);
  EXPECT_FALSE(executor.Submit(count));
  EXPECT_FALSE(executor.Reserve());
  release.Notify();
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](int* n) { return *n == 2; }, &ran));
}

}  // namespace
}  // namespace protomodel::server
