#ifndef PROTOMODEL_SERVER_STATUS_H_
#define PROTOMODEL_SERVER_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace protomodel::server {

// The one place where an absl::Status becomes a grpc::Status: same code,
// same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_STATUS_H_
