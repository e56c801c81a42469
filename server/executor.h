#ifndef PROTOMODEL_SERVER_EXECUTOR_H_
#define PROTOMODEL_SERVER_EXECUTOR_H_

#include <deque>
#include <thread>
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

  // Queues `task`; false (and `task` dropped) when max_queued are waiting.
  bool Submit(absl::AnyInvocable<void() &&> task);

  int queued() const;

 private:
  void Loop();

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_EXECUTOR_H_
