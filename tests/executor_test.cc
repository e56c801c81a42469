// The workers that run calls' database work (server/executor.h) and the
// batches some of that work goes in (server/batcher.h).
#include "server/verbs/executor.h"

#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/verbs/batcher.h"

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

// A batched item: its number, and the bytes it adds to a batch.
struct Item {
  int value = 0;
  size_t size = 0;
  size_t bytes() const { return size; }
};

// Records each batch `run` gets, as item numbers; the first `hold` batches
// wait for `release`.
struct Recorder {
  explicit Recorder(int hold_in) : hold(hold_in) {}
  void Run(std::vector<Item> items) {
    bool wait = false;
    {
      absl::MutexLock lock(&mu);
      std::vector<int> values;
      for (const Item& item : items) values.push_back(item.value);
      batches.push_back(values);
      wait = static_cast<int>(batches.size()) <= hold;
    }
    if (wait) release.WaitForNotification();
  }
  // Waits until `n` items have been run, in any batches.
  void AwaitItems(size_t n) {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      size_t total = 0;
      for (const auto& batch : batches) total += batch.size();
      return total >= n;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10)));
  }
  void AwaitBatches(size_t n) {
    absl::MutexLock lock(&mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return batches.size() >= n; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10)));
  }
  std::vector<std::vector<int>> Batches() {
    absl::MutexLock lock(&mu);
    return batches;
  }

  const int hold;
  absl::Notification release;
  absl::Mutex mu;
  std::vector<std::vector<int>> batches ABSL_GUARDED_BY(mu);
};

TEST(BatcherTest, AtLowLoadEachItemRunsAloneAtOnce) {
  Executor executor(4, 100);
  Recorder recorder(0);
  Batcher<Item> batcher(executor, {64, 2, 1 << 20}, [&](std::vector<Item> items) {
    recorder.Run(std::move(items));
  });
  for (int i = 0; i < 5; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
    recorder.AwaitItems(static_cast<size_t>(i) + 1);
  }
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1}, {2}, {3}, {4}}));
}

TEST(BatcherTest, ItemsArrivingWhileBatchesRunGoTogetherInArrivalOrder) {
  Executor executor(4, 100);
  Recorder recorder(2);
  Batcher<Item> batcher(executor, {64, 2, 1 << 20}, [&](std::vector<Item> items) {
    recorder.Run(std::move(items));
  });
  // Two batches under way, each of one item, held.
  for (int i = 0; i < 2; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
    recorder.AwaitBatches(static_cast<size_t>(i) + 1);
  }
  // Idle workers notwithstanding, these wait for one of them to end.
  for (int i = 2; i < 12; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  EXPECT_EQ(executor.queued(), 10);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(recorder.Batches().size(), 2u);
  recorder.release.Notify();
  recorder.AwaitItems(12);
  const auto batches = recorder.Batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2], (std::vector<int>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(executor.queued(), 0);
}

TEST(BatcherTest, ABatchHoldsAtMostMaxBatchItems) {
  Executor executor(2, 100);
  Recorder recorder(1);
  Batcher<Item> batcher(executor, {4, 1, 1 << 20}, [&](std::vector<Item> items) {
    recorder.Run(std::move(items));
  });
  Item first{0};
  ASSERT_TRUE(batcher.Add(first));
  recorder.AwaitBatches(1);
  for (int i = 1; i <= 10; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  recorder.release.Notify();
  recorder.AwaitItems(11);
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{
                                    {0}, {1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10}}));
}

TEST(BatcherTest, ABatchStopsGrowingBeforeItsBytesPassTheLimit) {
  Executor executor(2, 100);
  Recorder recorder(1);
  Batcher<Item> batcher(executor, {64, 1, 1000}, [&](std::vector<Item> items) {
    recorder.Run(std::move(items));
  });
  Item first{0, 10};
  ASSERT_TRUE(batcher.Add(first));
  recorder.AwaitBatches(1);
  // 400 + 400 fit, a third would not; an item past the limit goes alone.
  for (const Item& queued : {Item{1, 400}, Item{2, 400}, Item{3, 400}, Item{4, 5000},
                             Item{5, 1}}) {
    Item item = queued;
    ASSERT_TRUE(batcher.Add(item));
  }
  recorder.release.Notify();
  recorder.AwaitItems(6);
  EXPECT_EQ(recorder.Batches(),
            (std::vector<std::vector<int>>{{0}, {1, 2}, {3}, {4}, {5}}));
}

// Items waiting in a batcher count against the executor's bound, with the
// tasks waiting there: past it both refuse, and the refused item is intact.
TEST(BatcherTest, WaitingItemsCountAgainstTheExecutorsBound) {
  Executor executor(1, 3);
  Recorder recorder(1);
  Batcher<Item> batcher(executor, {64, 1, 1 << 20}, [&](std::vector<Item> items) {
    recorder.Run(std::move(items));
  });
  Item first{0};
  ASSERT_TRUE(batcher.Add(first));
  recorder.AwaitBatches(1);
  for (int i = 1; i <= 2; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  ASSERT_TRUE(executor.Submit([] {}));
  EXPECT_EQ(executor.queued(), 3);
  Item refused{42};
  EXPECT_FALSE(batcher.Add(refused));
  EXPECT_EQ(refused.value, 42);
  EXPECT_FALSE(executor.Submit([] {}));
  recorder.release.Notify();
  recorder.AwaitItems(3);
}

}  // namespace
}  // namespace protomodel::server
