#ifndef PROTOMODEL_SERVER_TRANSPORT_STATUS_H_
#define PROTOMODEL_SERVER_TRANSPORT_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "google/rpc/status.pb.h"

namespace protomodel::server {

// The AIP-193 form of `status`: the same code and message, a
// google.rpc.ErrorInfo (domain "protomodel", the status's reason, metadata
// `field` when a field is at fault), and by code: BadRequest naming the
// field (INVALID_ARGUMENT), ResourceInfo (NOT_FOUND, ALREADY_EXISTS),
// RetryInfo (UNAVAILABLE, RESOURCE_EXHAUSTED). See db/errors.h.
google::rpc::Status ToRpcStatus(const absl::Status& status);

// The one place where an absl::Status becomes a grpc::Status: same code,
// same message, and ToRpcStatus in the grpc-status-details-bin trailer.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_STATUS_H_
