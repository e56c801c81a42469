#ifndef PROTOMODEL_SERVER_VERBS_BATCHER_H_
#define PROTOMODEL_SERVER_VERBS_BATCHER_H_

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "server/verbs/executor.h"

namespace protomodel::server {

struct BatchLimits {
  size_t max_batch = 64;  // items in one batch
  int max_running = 2;    // batches under way at once
  // A batch stops growing before its items' bytes() pass this (a first item
  // always goes), so large rows do not pile up in one statement.
  size_t max_bytes = 1 << 20;
};

// Work of one kind that the executor's workers do for several calls at once
// (point reads of one table: one statement for all of them).
//
// Items wait in the batcher's own queue, each counted as a call waiting for
// the executor (so the executor's bound covers them). When a worker comes
// free it takes all that are waiting, up to `max_batch`, and hands them to
// `run` together. Nothing ever waits for a batch to fill: at low load each
// item runs alone as soon as a worker is free. At most `max_running` batches
// run at once, so under load the items arriving while they run gather and go
// together in the next one, which turns N round trips into one. T has
// `size_t bytes() const`, what the item adds to its batch's statement.
template <typename T>
class Batcher {
 public:
  using Run = absl::AnyInvocable<void(std::vector<T> items)>;

  Batcher(Executor& executor, BatchLimits limits, Run run)
      : executor_(executor), limits_(limits), run_(std::move(run)) {}
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `item`, moving from it; false, leaving it as it was, when the
  // executor has as many calls waiting as it takes.
  bool Add(T& item) {
    if (!executor_.Reserve()) return false;
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(item));
    ScheduleLocked();
    return true;
  }

 private:
  // Posts a drain when items wait, none is posted yet and fewer than
  // max_running batches are under way.
  void ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (queue_.empty() || posted_ || running_ >= limits_.max_running) return;
    posted_ = true;
    executor_.Post([this] { Drain(); });
  }

  void Drain() {
    std::vector<T> batch;
    {
      absl::MutexLock lock(&mu_);
      posted_ = false;
      ++running_;
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < limits_.max_batch &&
             (batch.empty() || bytes + queue_.front().bytes() <= limits_.max_bytes)) {
        bytes += queue_.front().bytes();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      executor_.Release(static_cast<int>(batch.size()));
      ScheduleLocked();
    }
    if (!batch.empty()) run_(std::move(batch));
    absl::MutexLock lock(&mu_);
    --running_;
    ScheduleLocked();
  }

  Executor& executor_;
  const BatchLimits limits_;
  Run run_;
  absl::Mutex mu_;
  std::deque<T> queue_ ABSL_GUARDED_BY(mu_);
  bool posted_ ABSL_GUARDED_BY(mu_) = false;  // a drain waits for a worker
  int running_ ABSL_GUARDED_BY(mu_) = 0;      // drains under way
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_BATCHER_H_
