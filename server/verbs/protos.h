#ifndef PROTOMODEL_SERVER_VERBS_PROTOS_H_
#define PROTOMODEL_SERVER_VERBS_PROTOS_H_

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace protomodel::server {

// The protos a server serves: a FileDescriptorSet's files, the pool their
// descriptors live in, and a prototype for each message. Files the binary
// was compiled with (the built-in protos, protomodel/v1 options, the
// well-known types) are the compiled ones, so their messages are generated
// classes; a user's own files are built over them, their messages dynamic.
class ServedProtos {
 public:
  // The built-in protos (protomodel/builtin_descriptors.h).
  static absl::StatusOr<std::unique_ptr<ServedProtos>> BuiltIn();
  // The FileDescriptorSet in `path` (protoc --include_imports
  // --descriptor_set_out), errors naming the file. A file the binary has
  // compiled in (protomodel/v1/options.proto above all) must be the same.
  static absl::StatusOr<std::unique_ptr<ServedProtos>> FromFile(const std::string& path);
  // The same from the set's bytes; `origin` names it in errors.
  static absl::StatusOr<std::unique_ptr<ServedProtos>> FromBytes(absl::string_view bytes,
                                                                 absl::string_view origin);

  const google::protobuf::DescriptorPool& pool() const { return *pool_; }
  // Every service of the set's files, in file order.
  const std::vector<const google::protobuf::ServiceDescriptor*>& services() const {
    return services_;
  }
  // An empty message of `type`, to make calls' messages from.
  const google::protobuf::Message& Prototype(const google::protobuf::Descriptor* type) const;

 private:
  ServedProtos();

  // A pool over the generated one, for files it lacks; null when every
  // file of the set is compiled in.
  std::unique_ptr<google::protobuf::DescriptorPool> own_pool_;
  const google::protobuf::DescriptorPool* pool_ = nullptr;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
  std::vector<const google::protobuf::ServiceDescriptor*> services_;
};

}  // namespace protomodel::server

#endif  // PROTOMODEL_SERVER_VERBS_PROTOS_H_
