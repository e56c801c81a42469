#include "server/verbs/executor.h"

#include <utility>

namespace protomodel::server {

Executor::Executor(int threads, int max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Idle* idle : idle_) {
      idle->woken = true;
      idle->wake.Signal();
    }
    idle_.clear();
  }
  for (std::thread& thread : threads_) thread.join();
}

bool Executor::Submit(Task task) {
  absl::MutexLock lock(&mu_);
  if (waiting_ >= max_queued_) return false;
  ++waiting_;
  PushLocked(std::move(task), true);
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
  PushLocked(std::move(task), false);
}

void Executor::PushLocked(Task task, bool call) {
  queue_.emplace_back(std::move(task), call);
  if (idle_.empty()) return;
  Idle* idle = idle_.back();
  idle_.pop_back();
  idle->woken = true;
  idle->wake.Signal();
}

int Executor::queued() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

void Executor::Loop() {
  Idle self;
  absl::MutexLock lock(&mu_);
  while (true) {
    while (queue_.empty()) {
      if (stopping_) return;
      self.woken = false;
      idle_.push_back(&self);
      while (!self.woken) self.wake.Wait(&mu_);
    }
    Task task = std::move(queue_.front().first);
    if (queue_.front().second) --waiting_;
    queue_.pop_front();
    mu_.Unlock();
    std::move(task)();
    task = nullptr;  // what it holds goes before the lock is taken again
    mu_.Lock();
  }
}

}  // namespace protomodel::server
