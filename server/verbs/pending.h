#ifndef PROTOMODEL_SERVER_VERBS_PENDING_H_
#define PROTOMODEL_SERVER_VERBS_PENDING_H_

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "db/exec/pool.h"
#include "server/verbs/call.h"

namespace protomodel::server {

// A call's deadline (or, when it has none, `default_deadline` from now)
// and its cancellation, for the database work it does.
inline db::CallLimit LimitOf(grpc::CallbackServerContext* context,
                             absl::Duration default_deadline) {
  const auto deadline = context->deadline();
  absl::Time limit = absl::Now() + default_deadline;
  if (deadline != std::chrono::system_clock::time_point::max()) {
    limit = std::min(absl::FromChrono(deadline), limit);
  }
  return db::CallLimit(limit, [context] { return context->IsCancelled(); });
}

// What a call waiting for the database is answered with when it cannot wait.

// RESOURCE_EXHAUSTED: too many calls wait for the database.
inline absl::Status Overloaded() {
  return absl::ResourceExhaustedError(
      "server overloaded: too many calls are queued for the database; retry later");
}

// Why a call that waited for its batch must not start now, or OK.
inline absl::Status Unstarted(grpc::CallbackServerContext* context,
                              const db::CallLimit& limit) {
  if (context->IsCancelled()) return absl::CancelledError("the client cancelled the call");
  if (absl::Now() >= limit.deadline) {
    return absl::DeadlineExceededError("the deadline passed while the call was queued");
  }
  return absl::OkStatus();
}

// Answers `call` with `status`, as its own caller sees it: a statement
// cancelled because the client left fails like one cancelled at the
// deadline; say what happened.
inline void Answer(Call* call, absl::Status status) {
  if (!status.ok() && call->context()->IsCancelled()) {
    status = absl::CancelledError("the client cancelled the call");
  }
  call->Finish(status);
}

// The calls of a batch that may still start; the others are answered.
template <typename Pending>
std::vector<Pending> Startable(std::vector<Pending> batch) {
  std::vector<Pending> live;
  for (Pending& pending : batch) {
    absl::Status unstarted = Unstarted(pending.call->context(), pending.limit);
    if (unstarted.ok()) {
      live.push_back(std::move(pending));
    } else {
      pending.call->Finish(unstarted);
    }
  }
  return live;
}

// The limit of one statement run for several calls: it may run until the
// latest of their deadlines and is cancelled only when every caller has
// left; each call still answers by its own deadline and cancellation.
template <typename Pending>
db::CallLimit SharedLimit(const std::vector<Pending>& live) {
  absl::Time deadline = absl::InfinitePast();
  std::vector<grpc::CallbackServerContext*> contexts;
  for (const Pending& pending : live) {
    deadline = std::max(deadline, pending.limit.deadline);
    contexts.push_back(pending.call->context());
  }
  return db::CallLimit(deadline, [contexts = std::move(contexts)] {
    for (grpc::CallbackServerContext* context : contexts) {
      if (!context->IsCancelled()) return false;
    }
    return true;
  });
}

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_PENDING_H_
