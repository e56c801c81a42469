#ifndef PROTOMODEL_REFLECTION_VERSIONS_H_
#define PROTOMODEL_REFLECTION_VERSIONS_H_

#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace protomodel::reflection {

// The two versions of gRPC's server reflection, alike but for their package:
// grpcurl 1.8.8+, `buf curl` and Postman ask v1 first, older clients
// v1alpha. Code written once for both takes one of these.
struct V1 {
  using Service = grpc::reflection::v1::ServerReflection;
  using Request = grpc::reflection::v1::ServerReflectionRequest;
  using Response = grpc::reflection::v1::ServerReflectionResponse;
};
struct V1Alpha {
  using Service = grpc::reflection::v1alpha::ServerReflection;
  using Request = grpc::reflection::v1alpha::ServerReflectionRequest;
  using Response = grpc::reflection::v1alpha::ServerReflectionResponse;
};

}  // namespace protomodel::reflection

#endif  // PROTOMODEL_REFLECTION_VERSIONS_H_
