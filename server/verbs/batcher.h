#ifndef PROTOMODEL_SERVER_VERBS_BATCHER_H_
#define PROTOMODEL_SERVER_VERBS_BATCHER_H_

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace protomodel::server {

struct BatchLimits {
  size_t max_batch = 64;  // items in one batch
  int max_running = 2;    // batches under way at once
  // A batch stops growing before its items' bytes() pass this (a first item
  // always goes), so large rows do not pile up in one statement.
  size_t max_bytes = 1 << 20;
  // Items waiting for a batch, at most; past it Add refuses.
  size_t max_queued = 1024;
};

// Work of one kind done for several calls at once (point reads of one
// table: one statement for all of them).
//
// An item that arrives while no batch is under way goes at once, alone, on
// the caller's thread: nothing ever waits for a batch to fill. While one is
// under way, a further batch (up to `max_running`) starts as soon as two
// items wait; otherwise items wait, and when a batch is answered, all that
// wait (up to `max_batch`) go together in the next: under load N round
// trips become one, and two batches' answers are read on two connections'
// threads at once. `run` must not block: it starts the batch's statement and calls
// `finished` once that statement has been answered (on whichever thread
// answers it). T has `size_t bytes() const`, what the item adds to its
// batch's statement.
template <typename T>
class Batcher {
 public:
  using Finished = absl::AnyInvocable<void() &&>;
  using Run = absl::AnyInvocable<void(std::vector<T> items, Finished finished) const>;

  Batcher(BatchLimits limits, Run run) : limits_(limits), run_(std::move(run)) {}
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Items waiting for a batch.
  size_t waiting() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  // Starts or queues `item`, moving from it; false, leaving it as it was,
  // when max_queued items are waiting.
  bool Add(T& item) {
    std::vector<T> batch;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.size() >= limits_.max_queued) return false;
      queue_.push_back(std::move(item));
      // The first batch goes at once; a further one only with company.
      if (running_ >= limits_.max_running || (running_ > 0 && queue_.size() < 2)) return true;
      batch = TakeLocked();
    }
    Start(std::move(batch));
    return true;
  }

 private:
  std::vector<T> TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<T> batch;
    size_t bytes = 0;
    while (!queue_.empty() && batch.size() < limits_.max_batch &&
           (batch.empty() || bytes + queue_.front().bytes() <= limits_.max_bytes)) {
      bytes += queue_.front().bytes();
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++running_;
    return batch;
  }

  void Start(std::vector<T> batch) {
    run_(std::move(batch), [this] { Finish(); });
  }

  // A batch was answered: the items that waited meanwhile go next.
  void Finish() {
    std::vector<T> batch;
    {
      absl::MutexLock lock(&mu_);
      --running_;
      if (queue_.empty()) return;
      batch = TakeLocked();
    }
    Start(std::move(batch));
  }

  const BatchLimits limits_;
  const Run run_;
  absl::Mutex mu_;
  std::deque<T> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // batches under way
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_BATCHER_H_
