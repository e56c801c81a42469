#ifndef PROTOMODEL_SERVER_TRANSPORT_REFLECTION_H_
#define PROTOMODEL_SERVER_TRANSPORT_REFLECTION_H_

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <grpcpp/impl/codegen/service_type.h>

namespace protomodel::reflection {
struct V1;  // protomodel/reflection_versions.h
struct V1Alpha;
}  // namespace protomodel::reflection

namespace protomodel::server {

// gRPC server reflection, both protocol versions, answered from one
// descriptor pool: `grpc.reflection.v1` (what grpcurl 1.8.8+, `buf curl`
// and Postman ask first) and `grpc.reflection.v1alpha` (older clients).
// It lists `services` (the reflection services add themselves) and
// describes any file, symbol or extension of `pool`, with the files each
// depends on. gRPC's own reflection plugin answers only v1alpha, and only
// from the generated pool.
class Reflection final {
 public:
  // `pool` must outlive the services.
  Reflection(const google::protobuf::DescriptorPool* pool, std::vector<std::string> services);
  ~Reflection();
  Reflection(const Reflection&) = delete;
  Reflection& operator=(const Reflection&) = delete;

  grpc::Service* v1();
  grpc::Service* v1alpha();

 private:
  template <typename Version>
  class VersionService;
  std::unique_ptr<VersionService<reflection::V1>> v1_;
  std::unique_ptr<VersionService<reflection::V1Alpha>> v1alpha_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_TRANSPORT_REFLECTION_H_
