#include "server/executor.h"

#include <utility>

namespace protomodel::server {

Executor::Executor(int threads, int max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

bool Executor::Submit(Task task) {
  absl::MutexLock lock(&mu_);
  if (waiting_ >= max_queued_) return false;
  ++waiting_;
  queue_.emplace_back(std::move(task), true);
  return true;
}

bool Executor::Reserve() {
  absl::MutexLock lock(&mu_);
  if (waiting_ >= max_queued_) return false;
  ++waiting_;
  return true;
}

void Executor::Release(int calls) {
  absl::MutexLock lock(&mu_);
  waiting_ -= calls;
}

void Executor::Post(Task task) {
  absl::MutexLock lock(&mu_);
  queue_.emplace_back(std::move(task), false);
}

int Executor::queued() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

void Executor::Loop() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left
      task = std::move(queue_.front().first);
      if (queue_.front().second) --waiting_;
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace protomodel::server
