#include "server/transport/reflection.h"

#include <set>
#include <utility>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/support/server_callback.h>

#include "absl/strings/str_cat.h"
#include "protomodel/reflection_versions.h"

namespace protomodel::server {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// What both versions share: the pool and the services listed.
struct Catalog {
  const DescriptorPool* pool;
  std::vector<std::string> services;
};

// Adds `file` and every file it imports, each once, dependencies first.
void AddFiles(const FileDescriptor* file, std::set<const FileDescriptor*>* seen,
              std::vector<std::string>* out) {
  if (!seen->insert(file).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddFiles(file->dependency(i), seen, out);
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->push_back(proto.SerializeAsString());
}

// The answer to one request; the two versions' messages have the same
// fields, so one template serves both.
template <typename Request, typename Response>
void Answer(const Catalog& catalog, const Request& request, Response* response) {
  response->Clear();
  response->set_valid_host(request.host());
  *response->mutable_original_request() = request;
  const DescriptorPool& pool = *catalog.pool;
  const FileDescriptor* file = nullptr;
  std::string missing;
  switch (request.message_request_case()) {
    case Request::kListServices:
      for (const std::string& service : catalog.services) {
        response->mutable_list_services_response()->add_service()->set_name(service);
      }
      return;
    case Request::kFileByFilename:
      file = pool.FindFileByName(request.file_by_filename());
      missing = absl::StrCat("file ", request.file_by_filename());
      break;
    case Request::kFileContainingSymbol:
      file = pool.FindFileContainingSymbol(request.file_containing_symbol());
      missing = absl::StrCat("symbol ", request.file_containing_symbol());
      break;
    case Request::kFileContainingExtension: {
      const auto& extension = request.file_containing_extension();
      const auto* type = pool.FindMessageTypeByName(extension.containing_type());
      const auto* field =
          type == nullptr ? nullptr
                          : pool.FindExtensionByNumber(type, extension.extension_number());
      if (field != nullptr) file = field->file();
      missing = absl::StrCat("extension ", extension.extension_number(), " of ",
                             extension.containing_type());
      break;
    }
    case Request::kAllExtensionNumbersOfType: {
      const auto* type = pool.FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        missing = absl::StrCat("type ", request.all_extension_numbers_of_type());
        break;
      }
      std::vector<const google::protobuf::FieldDescriptor*> extensions;
      pool.FindAllExtensions(type, &extensions);
      auto* numbers = response->mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const auto* extension : extensions) numbers->add_extension_number(extension->number());
      return;
    }
    default:
      response->mutable_error_response()->set_error_code(
          static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      response->mutable_error_response()->set_error_message("no request in the message");
      return;
  }
  if (file == nullptr) {
    response->mutable_error_response()->set_error_code(
        static_cast<int>(grpc::StatusCode::NOT_FOUND));
    response->mutable_error_response()->set_error_message(absl::StrCat(missing, " not found"));
    return;
  }
  std::set<const FileDescriptor*> seen;
  std::vector<std::string> files;
  AddFiles(file, &seen, &files);
  auto* out = response->mutable_file_descriptor_response();
  // The file asked for first, as clients expect, then what it imports.
  out->add_file_descriptor_proto(files.back());
  files.pop_back();
  for (std::string& dependency : files) out->add_file_descriptor_proto(std::move(dependency));
}

// One reflection stream: each request read is answered, in order, until
// the client closes its side.
template <typename Request, typename Response>
class Stream final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit Stream(const Catalog& catalog) : catalog_(catalog) { this->StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status::OK);
      return;
    }
    Answer(catalog_, request_, &response_);
    this->StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    this->StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  const Catalog& catalog_;
  Request request_;
  Response response_;
};

}  // namespace

// One version's service: every stream answered from the same catalog.
template <typename Version>
class Reflection::VersionService final : public Version::Service::CallbackService {
 public:
  explicit VersionService(const Catalog& catalog) : catalog_(catalog) {}
  grpc::ServerBidiReactor<typename Version::Request, typename Version::Response>*
  ServerReflectionInfo(grpc::CallbackServerContext* /*context*/) override {
    return new Stream<typename Version::Request, typename Version::Response>(catalog_);
  }
  Catalog catalog_;
};

Reflection::Reflection(const DescriptorPool* pool, std::vector<std::string> services) {
  services.push_back(reflection::V1::Service::service_full_name());
  services.push_back(reflection::V1Alpha::Service::service_full_name());
  const Catalog catalog{pool, std::move(services)};
  v1_ = std::make_unique<VersionService<reflection::V1>>(catalog);
  v1alpha_ = std::make_unique<VersionService<reflection::V1Alpha>>(catalog);
}

Reflection::~Reflection() = default;

grpc::Service* Reflection::v1() { return v1_.get(); }
grpc::Service* Reflection::v1alpha() { return v1alpha_.get(); }

}  // namespace protomodel::server
