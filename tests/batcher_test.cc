// The batches point reads and creates go in (server/verbs/batcher.h): run
// at once when few are under way, gathered while they are, bounded.
#include "server/verbs/batcher.h"

#include <deque>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"

namespace protomodel::server {
namespace {

// A batched item: its number, and the bytes it adds to a batch.
struct Item {
  int value = 0;
  size_t size = 0;
  size_t bytes() const { return size; }
};

using ItemBatcher = Batcher<Item>;

// Records each batch `run` gets, as item numbers, and holds its `finished`
// until the test answers it (as the database would).
struct Recorder {
  ItemBatcher::Run Runner() {
    return [this](std::vector<Item> items, ItemBatcher::Finished finished) {
      absl::MutexLock lock(&mu);
      std::vector<int> values;
      for (const Item& item : items) values.push_back(item.value);
      batches.push_back(values);
      held.push_back(std::move(finished));
    };
  }
  // Answers the oldest batch still under way.
  void AnswerOne() {
    ItemBatcher::Finished finished;
    {
      absl::MutexLock lock(&mu);
      ASSERT_FALSE(held.empty());
      finished = std::move(held.front());
      held.pop_front();
    }
    std::move(finished)();
  }
  void AnswerAll() {
    while (running() > 0) AnswerOne();
  }
  size_t running() {
    absl::MutexLock lock(&mu);
    return held.size();
  }
  std::vector<std::vector<int>> Batches() {
    absl::MutexLock lock(&mu);
    return batches;
  }

  absl::Mutex mu;
  std::vector<std::vector<int>> batches ABSL_GUARDED_BY(mu);
  std::deque<ItemBatcher::Finished> held ABSL_GUARDED_BY(mu);
};

BatchLimits Limits(size_t max_batch, int max_running, size_t max_bytes = 1 << 20,
                   size_t max_queued = 1024) {
  BatchLimits limits;
  limits.max_batch = max_batch;
  limits.max_running = max_running;
  limits.max_bytes = max_bytes;
  limits.max_queued = max_queued;
  return limits;
}

TEST(BatcherTest, AtLowLoadEachItemRunsAloneAtOnce) {
  Recorder recorder;
  ItemBatcher batcher(Limits(64, 2), recorder.Runner());
  for (int i = 0; i < 5; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
    EXPECT_EQ(recorder.running(), 1u);
    recorder.AnswerOne();
  }
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1}, {2}, {3}, {4}}));
}

TEST(BatcherTest, ItemsArrivingWhileBatchesRunGoTogetherInArrivalOrder) {
  Recorder recorder;
  ItemBatcher batcher(Limits(64, 2), recorder.Runner());
  for (int i = 0; i < 12; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  // The first went alone at once; the second batch waited for company
  // (two items); the rest wait for one of them to be answered.
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1, 2}}));
  recorder.AnswerOne();
  const auto batches = recorder.Batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[2], (std::vector<int>{3, 4, 5, 6, 7, 8, 9, 10, 11}));
  recorder.AnswerAll();
}

TEST(BatcherTest, ABatchHoldsAtMostMaxBatchItems) {
  Recorder recorder;
  ItemBatcher batcher(Limits(4, 1), recorder.Runner());
  for (int i = 0; i <= 10; ++i) {
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  recorder.AnswerAll();
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{
                                    {0}, {1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10}}));
}

TEST(BatcherTest, ABatchStopsGrowingBeforeItsBytesPassTheLimit) {
  Recorder recorder;
  ItemBatcher batcher(Limits(64, 1, 1000), recorder.Runner());
  // 400 + 400 fit, a third would not; an item past the limit goes alone.
  for (const Item& queued : {Item{0, 10}, Item{1, 400}, Item{2, 400}, Item{3, 400},
                             Item{4, 5000}, Item{5, 1}}) {
    Item item = queued;
    ASSERT_TRUE(batcher.Add(item));
  }
  recorder.AnswerAll();
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1, 2}, {3}, {4}, {5}}));
}

// A lone item arriving while a batch is under way waits for it, or for
// company, rather than taking the second batch alone.
TEST(BatcherTest, ASecondBatchGoesOnlyWithCompany) {
  Recorder recorder;
  ItemBatcher batcher(Limits(64, 2), recorder.Runner());
  Item first{0}, second{1};
  ASSERT_TRUE(batcher.Add(first));
  ASSERT_TRUE(batcher.Add(second));
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}}));
  recorder.AnswerOne();  // the first answered: the lone one goes
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1}}));
  recorder.AnswerAll();
}

// Past max_queued waiting items Add refuses, leaving the item intact.
TEST(BatcherTest, RefusesPastItsQueueAndKeepsTheRefusedItem) {
  Recorder recorder;
  ItemBatcher batcher(Limits(64, 1, 1 << 20, 2), recorder.Runner());
  for (int i = 0; i < 3; ++i) {  // one under way, two waiting
    Item item{i};
    ASSERT_TRUE(batcher.Add(item));
  }
  Item refused{42};
  EXPECT_FALSE(batcher.Add(refused));
  EXPECT_EQ(refused.value, 42);
  recorder.AnswerAll();
  Item later{7};
  EXPECT_TRUE(batcher.Add(later));
  recorder.AnswerAll();
  EXPECT_EQ(recorder.Batches(), (std::vector<std::vector<int>>{{0}, {1, 2}, {7}}));
}

// A batch answered at once, on the thread that started it (the database
// refused it before sending), lets the next one go without deadlock.
TEST(BatcherTest, ABatchAnsweredAtOnceStartsTheNext) {
  std::vector<std::vector<int>> batches;
  ItemBatcher* self = nullptr;
  bool added_inside = false;
  ItemBatcher batcher(Limits(64, 1), [&](std::vector<Item> items, ItemBatcher::Finished done) {
    std::vector<int> values;
    for (const Item& item : items) values.push_back(item.value);
    batches.push_back(values);
    if (!added_inside) {
      added_inside = true;
      Item inside{1};
      EXPECT_TRUE(self->Add(inside));  // queued: this batch is under way
    }
    std::move(done)();
  });
  self = &batcher;
  Item first{0};
  ASSERT_TRUE(batcher.Add(first));
  EXPECT_EQ(batches, (std::vector<std::vector<int>>{{0}, {1}}));
}

}  // namespace
}  // namespace protomodel::server
