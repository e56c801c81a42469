#include "server/verbs/protos.h"

#include <fstream>
#include <set>
#include <sstream>

#include <google/protobuf/descriptor.pb.h>

#include "absl/strings/str_cat.h"
#include "protomodel/builtin_descriptors.h"

namespace protomodel::server {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;

// Collects what the pool says is wrong with a file.
class Errors final : public DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const google::protobuf::Message* /*descriptor*/, ErrorLocation /*location*/,
                const std::string& message) override {
    if (!text.empty()) text += "; ";
    absl::StrAppend(&text, filename, ": ", element_name.empty() ? "" : element_name,
                    element_name.empty() ? "" : ": ", message);
  }
  std::string text;
};

}  // namespace

ServedProtos::ServedProtos()
    : factory_(std::make_unique<google::protobuf::DynamicMessageFactory>()) {
  // Messages of compiled-in types, nested in dynamic ones included, are the
  // generated classes.
  factory_->SetDelegateToGeneratedFactory(true);
}

absl::StatusOr<std::unique_ptr<ServedProtos>> ServedProtos::BuiltIn() {
  const std::string_view set = proto::BuiltinDescriptorSet();
  return FromBytes(absl::string_view(set.data(), set.size()), "the built-in descriptor set");
}

absl::StatusOr<std::unique_ptr<ServedProtos>> ServedProtos::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--descriptor_set: ", path, " cannot be opened"));
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return FromBytes(bytes.str(), absl::StrCat("--descriptor_set ", path));
}

absl::StatusOr<std::unique_ptr<ServedProtos>> ServedProtos::FromBytes(absl::string_view bytes,
                                                                      absl::string_view origin) {
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": not a FileDescriptorSet (make one with protoc --include_imports "
                "--descriptor_set_out=FILE)"));
  }
  std::unique_ptr<ServedProtos> served(new ServedProtos());
  const DescriptorPool* generated = DescriptorPool::generated_pool();
  // Files the binary was compiled with are taken from the generated pool,
  // and must be what it was compiled with: a differing copy of the options
  // would map messages to tables other than the ones it says.
  std::vector<const FileDescriptorProto*> own;
  for (const FileDescriptorProto& file : set.file()) {
    const FileDescriptor* compiled = generated->FindFileByName(file.name());
    if (compiled == nullptr) {
      own.push_back(&file);
      continue;
    }
    FileDescriptorProto expected;
    compiled->CopyTo(&expected);
    compiled->CopyJsonNameTo(&expected);
    FileDescriptorProto given = file;
    given.clear_source_code_info();
    if (file.name().rfind("protomodel/", 0) == 0 &&
        expected.SerializeAsString() != given.SerializeAsString()) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": ", file.name(), " differs from the one this server was built with; "
          "compile against the protomodel protos it ships (share/protomodel/proto)"));
    }
  }
  if (own.empty()) {
    served->pool_ = generated;
  } else {
    served->own_pool_ = std::make_unique<DescriptorPool>(generated);
    served->pool_ = served->own_pool_.get();
    for (const FileDescriptorProto* file : own) {
      Errors errors;
      if (served->own_pool_->BuildFileCollectingErrors(*file, &errors) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(origin, ": ", errors.text));
      }
    }
  }
  for (const FileDescriptorProto& file : set.file()) {
    const FileDescriptor* built = served->pool_->FindFileByName(file.name());
    for (int i = 0; built != nullptr && i < built->service_count(); ++i) {
      served->services_.push_back(built->service(i));
    }
  }
  return served;
}

const google::protobuf::Message& ServedProtos::Prototype(
    const google::protobuf::Descriptor* type) const {
  return *factory_->GetPrototype(type);
}

}  // namespace protomodel::server
