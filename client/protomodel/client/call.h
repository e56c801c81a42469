#ifndef PROTOMODEL_CLIENT_CALL_H_
#define PROTOMODEL_CLIENT_CALL_H_

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace protomodel::client {

// Per-call settings of the typed clients.
struct CallOptions {
  // Each call's deadline, counted from when it starts (retries included).
  absl::Duration deadline = absl::Seconds(10);
};

// A grpc::Status as an absl::Status: same code, same message.
absl::Status FromGrpc(const grpc::Status& status);

// A random version-4 UUID in lower case, e.g. for request_id.
std::string NewRequestId();

namespace internal {

std::unique_ptr<grpc::ClientContext> NewContext(const CallOptions& options);

// Runs `method` of `stub` and converts the result.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(
    Stub& stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
    const Request& request, const CallOptions& options) {
  Response response;
  auto context = NewContext(options);
  grpc::Status status = (stub.*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace internal
}  // namespace protomodel::client

#endif  // PROTOMODEL_CLIENT_CALL_H_
