#ifndef PROTOMODEL_SERVER_VERBS_EXECUTOR_H_
#define PROTOMODEL_SERVER_VERBS_EXECUTOR_H_

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace protomodel::server {

// The threads that run calls' database work, so gRPC's own threads never
// block on the database: every call that reaches the server is started at
// once (and so is finished, not dropped, when the server drains), however
// slow the database is. Tasks run in arrival order.
class Executor {
 public:
  // `threads` workers; at most `max_queued` tasks wait for one.
  Executor(int threads, int max_queued);
  // Runs what is queued, then joins the workers.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  using Task = absl::AnyInvocable<void() &&>;

  // Queues `task`, the work of one call; false (and `task` dropped) when
  // max_queued calls are waiting.
  bool Submit(Task task);

  // For work queued elsewhere and run in batches (Batcher): Reserve counts a
  // call as waiting (false when max_queued are), Release(n) ends the wait of
  // n of them, and Post queues a task that is not a call of its own.
  bool Reserve();
  void Release(int calls);
  void Post(Task task);

  // Calls waiting for a worker.
  int queued() const;

 private:
  // A worker waiting for a task.
  struct Idle {
    absl::CondVar wake;
    bool woken = false;
  };

  void Loop();
  // Queues a task and wakes the worker that went idle last (its stack and
  // caches are the warmest); none when all are busy, since the first to
  // finish takes it.
  void PushLocked(Task task, bool call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_queued_;
  mutable absl::Mutex mu_;
  // Each task, and whether it is a call counted in waiting_.
  std::deque<std::pair<Task, bool>> queue_ ABSL_GUARDED_BY(mu_);
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Idle*> idle_ ABSL_GUARDED_BY(mu_);  // the last to go idle last
  std::vector<std::thread> threads_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_EXECUTOR_H_
