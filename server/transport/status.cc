#include "server/transport/status.h"

#include <string>

#include <google/protobuf/util/time_util.h>

#include "db/errors.h"
#include "google/rpc/error_details.pb.h"

namespace protomodel::server {

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  if (status.ok()) return rpc;
  const std::string field = db::ErrorField(status);

  google::rpc::ErrorInfo info;
  info.set_reason(db::ErrorReason(status));
  info.set_domain("protomodel");
  if (!field.empty()) (*info.mutable_metadata())["field"] = field;
  rpc.add_details()->PackFrom(info);

  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument: {
      google::rpc::BadRequest bad;
      auto* violation = bad.add_field_violations();
      violation->set_field(field);
      violation->set_description(std::string(status.message()));
      rpc.add_details()->PackFrom(bad);
      break;
    }
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists: {
      google::rpc::ResourceInfo resource;
      resource.set_resource_type(db::ErrorResourceType(status));
      resource.set_resource_name(db::ErrorResourceName(status));
      resource.set_description(std::string(status.message()));
      rpc.add_details()->PackFrom(resource);
      break;
    }
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted: {
      google::rpc::RetryInfo retry;
      *retry.mutable_retry_delay() = google::protobuf::util::TimeUtil::MillisecondsToDuration(
          absl::ToInt64Milliseconds(db::ErrorRetryDelay(status)));
      rpc.add_details()->PackFrom(retry);
      break;
    }
    default:
      break;
  }
  return rpc;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()), ToRpcStatus(status).SerializeAsString());
}

}  // namespace protomodel::server
